"""`dojo gameday report`: an incident report passes only when every section is filled in."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli.main import app
from dojo.settings import Settings, load_settings
from dojo.teaching.gameday import report
from dojo.teaching.gameday.state import GameDay, GameDayDrill, finish_gameday, save_gameday

DRILLS = ["consumer-stopped", "mlflow-down"]

FILLED = """# Incident report: features frozen, registry down

## Summary

The stream processor and the tracking server stopped; `dojo up` started both.

## Impact

Features stale for four minutes; no model could be registered.

## Timeline

- 14:00 symptoms reported
- 14:03 both verified fixed

## Detection

`dojo doctor`: stream and mlflow red.

## Root cause

- consumer-stopped: the processor was stopped, and no lag alert exists.
- mlflow-down: the tracking server was stopped.

## Fix

- both: `dojo up`, verified by `dojo drill check`.

## What went well

The doctor's first red line.

## What went badly

Nothing paged.

## Follow-ups

- Alert on consumer lag (owner: streaming team, due: Friday)
"""


def replace(text: str, section: str, body: str) -> str:
    """FILLED with one section's body swapped for ``body``."""
    found = report.sections(text)
    return text.replace(found[section], body)


def test_a_filled_report_passes() -> None:
    assert report.problems(FILLED, DRILLS) == []


def test_the_template_fails_with_one_line_per_section() -> None:
    found = report.problems(report.TEMPLATE.read_text(), DRILLS)
    assert len(found) == len(report.SECTIONS)
    for section, problem in zip(report.SECTIONS, found, strict=True):
        assert problem.startswith(f"section '{section}' still holds the template's <")


@pytest.mark.parametrize(("text", "expected"), [
    (FILLED.replace("## Detection", "## Detected"), "section 'Detection' is missing"),
    (replace(FILLED, "Impact", "<!-- only the template's guidance -->"),
     "section 'Impact' is empty"),
    (replace(FILLED, "Summary", "It broke. <ONE MORE SENTENCE>"),
     "section 'Summary' still holds the template's <ONE MORE SENTENCE>"),
    (replace(FILLED, "Timeline", "- first the stream, then mlflow"),
     "section 'Timeline' has no time of day"),
    (replace(FILLED, "Root cause", "- consumer-stopped: stopped."),
     "section 'Root cause' does not name mlflow-down"),
    (replace(FILLED, "Follow-ups", "- Alert on consumer lag, someday"),
     "follow-up 'Alert on consumer lag, someday' has no owner"),
    (replace(FILLED, "Follow-ups", "We will do better."),
     "section 'Follow-ups' has no list item"),
])
def test_each_gap_is_one_line_naming_it(text: str, expected: str) -> None:
    found = report.problems(text, DRILLS)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_html_tags_and_lowercase_angle_brackets_are_not_placeholders() -> None:
    text = replace(FILLED, "What went well", "The runbook<br>and the <b>doctor</b>.")
    assert report.problems(text, DRILLS) == []


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    assert report.check_file(tmp_path / "nope.md", DRILLS)[0].startswith("cannot read")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    settings = load_settings(home=home)
    for key, value in settings.as_env().items():
        monkeypatch.setenv(key, value)
    return settings


def test_the_command_checks_against_the_last_game_day(env: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    filled = tmp_path / "report.md"
    filled.write_text(FILLED)
    none_yet = runner.invoke(app, ["gameday", "report", str(filled)])
    assert none_yet.exit_code == 2 and "no game day has run here" in none_yet.output
    save_gameday(env, GameDay(drills=[GameDayDrill(name) for name in DRILLS]))
    finish_gameday(env)  # as `dojo gameday reset` does: the report is written afterwards
    passed = runner.invoke(app, ["gameday", "report", str(filled)])
    assert passed.exit_code == 0, passed.output
    assert "is filled in" in passed.output
    failed = runner.invoke(app, ["gameday", "report", str(report.TEMPLATE)])
    assert failed.exit_code == 1
    assert f"{len(report.SECTIONS)} problem(s) in" in failed.output
    assert "✗ section 'Root cause' still holds" in failed.output

"""Drills end with interview cards too: every registered drill's runbook has them, their keys
never collide with a lab's or a deck's, and `dojo interview --drill NAME` quizzes one drill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli import drill as drill_cli
from dojo.cli.interview import app
from dojo.settings import REPO_ROOT, Settings
from dojo.teaching.drills import registry
from dojo.teaching.drills.registry import discover
from dojo.teaching.interview import (
    DRILL_PREFIX,
    UnknownDrillError,
    drill_runbooks,
    load_drill_questions,
    load_questions,
    parse_questions,
)
from dojo.teaching.interview_topics import TOPICS
from drill_support import FileDrill

DRILLS = discover()

LAB = """# Lab 01

## Interview questions

**Q1. Why commit offsets after the write?**

Topic: streaming

Key points:
- at-least-once
- idempotent writes
"""

RUNBOOK = """# Runbook: the broker is down

## Fix

Not a card: outside the section.

## Interview questions

**Q1. How do you tell a dead broker from a dead consumer?**

Topic: streaming

Key points:
- ask the broker
- compare committed and end offsets

**Q2. What do you alert on?**

Topic: monitoring

Key points:
- lag as time
- absence of the series
"""


@pytest.mark.parametrize("name", list(DRILLS))
def test_every_registered_drill_has_cards_in_its_runbook(name: str) -> None:
    runbook = REPO_ROOT / DRILLS[name].runbook
    assert runbook.parent == REPO_ROOT / "labs" / "drills" and runbook.stem == name, \
        "the card keys use the runbook's name: it must be the drill's"
    cards = parse_questions(runbook.read_text(encoding="utf-8"), f"{DRILL_PREFIX}{name}",
                            str(runbook))
    assert len(cards) >= 2, f"{name}: a drill runbook needs at least two interview cards"
    assert all(q.topic in TOPICS for q in cards)
    assert all(q.text.endswith("?") and len(q.key_points) >= 3 for q in cards)
    assert [q.key for q in cards] == [f"drill/{name}/Q{n}" for n in range(1, len(cards) + 1)]


def test_drill_cards_load_with_keys_no_lab_or_deck_can_take() -> None:
    cards = load_questions()
    drill_keys = {q.key for q in cards if q.lab_id.startswith(DRILL_PREFIX)}
    assert {key.split("/")[1] for key in drill_keys} == set(DRILLS)
    assert set(drill_runbooks()) == set(DRILLS), "every runbook page belongs to a drill"
    others = [q.key for q in cards if not q.lab_id.startswith(DRILL_PREFIX)]
    assert not any(key.startswith(DRILL_PREFIX) for key in others)
    assert len({q.key for q in cards}) == len(cards)


@pytest.fixture
def labs_dir(tmp_path: Path) -> str:
    lab = tmp_path / "labs" / "01-fixture"
    lab.mkdir(parents=True)
    (lab / "README.md").write_text(LAB)
    drills = tmp_path / "labs" / "drills"
    drills.mkdir()
    (drills / "README.md").write_text("# Drills\n\nThe index, not a runbook.\n")
    (drills / "broker-down.md").write_text(RUNBOOK)
    return str(tmp_path / "labs")


@pytest.fixture
def cards_dir(tmp_path: Path) -> str:
    folder = tmp_path / "cards"
    folder.mkdir()
    return str(folder)


def test_labs_then_drills_and_one_drill_alone(labs_dir: str, cards_dir: str) -> None:
    everything = load_questions(Path(labs_dir), cards_dir=Path(cards_dir))
    assert [q.key for q in everything] == ["01/Q1", "drill/broker-down/Q1",
                                           "drill/broker-down/Q2"]
    assert [q.key for q in load_questions(Path(labs_dir), "01", Path(cards_dir))] == ["01/Q1"]
    one = load_drill_questions(Path(labs_dir), "broker-down")
    assert [q.key for q in one] == ["drill/broker-down/Q1", "drill/broker-down/Q2"]
    with pytest.raises(UnknownDrillError, match=r"no drill named 'nope' \(drills: broker-down\)"):
        load_drill_questions(Path(labs_dir), "nope")


def test_drill_option_lists_only_that_drill(labs_dir: str, cards_dir: str,
                                           isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--drill", "broker-down", "--list", "--labs-dir", labs_dir,
                                      "--cards-dir", cards_dir])
    assert result.exit_code == 0, result.output
    assert "drill/broker-down/Q1 How do you tell a dead broker from a dead consumer?" \
        in result.output
    assert "01/Q1" not in result.output and "2 questions" in result.output
    assert "dojo interview --drill broker-down` to quiz" in result.output


def test_drill_and_topic_together_select_both(labs_dir: str, isolated_env: Settings) -> None:
    args = ["--drill", "broker-down", "--labs-dir", labs_dir]
    result = CliRunner().invoke(app, [*args, "--topic", "monitoring", "--list"])
    assert result.exit_code == 0 and "1 questions" in result.output, result.output
    assert "drill/broker-down/Q2" in result.output
    empty = CliRunner().invoke(app, [*args, "--topic", "training"])
    assert empty.exit_code == 2
    assert "no interview questions in drill broker-down and topic training" in empty.output


def test_topics_count_drill_cards_too(labs_dir: str, cards_dir: str,
                                      isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--list-topics", "--labs-dir", labs_dir,
                                      "--cards-dir", cards_dir])
    assert result.exit_code == 0, result.output
    counts = {line.split()[0]: int(line.split()[1]) for line in result.output.splitlines()[:-1]}
    assert (counts["streaming"], counts["monitoring"]) == (2, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drill", "nope"], "no drill named 'nope' (drills: broker-down)"),
        (["--drill", "broker-down", "--lab", "01"], "choose --lab or --drill, not both"),
    ],
)
def test_bad_drill_selection_is_one_line_and_exit_2(labs_dir: str, isolated_env: Settings,
                                                    args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, [*args, "--labs-dir", labs_dir])
    assert result.exit_code == 2 and message in result.output, result.output
    assert result.output.strip().count("\n") == 0, result.output


def test_quiz_records_drill_cards_under_their_own_key(labs_dir: str,
                                                      isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--drill", "broker-down", "--labs-dir", labs_dir],
                                input="ask the broker\ny\n\nn\n")
    assert result.exit_code == 0 and "Marked 1 question(s) reviewed" in result.output
    record = json.loads(isolated_env.progress_path.read_text())
    assert set(record["interview"]) == {"drill/broker-down/Q1"}


def test_a_fixed_drill_points_at_its_interview_cards(monkeypatch: pytest.MonkeyPatch,
                                                     isolated_env: Settings) -> None:
    monkeypatch.setattr(registry, "discover", lambda: {"file-gone": FileDrill})
    isolated_env.home.mkdir(parents=True, exist_ok=True)
    runner = CliRunner()
    assert runner.invoke(drill_cli.app, ["start", "file-gone"]).exit_code == 0
    (isolated_env.home / "the-file").touch()
    fixed = runner.invoke(drill_cli.app, ["check", "file-gone"])
    assert fixed.exit_code == 0, fixed.output
    assert "`dojo interview --drill file-gone`." in fixed.output, "one line, never wrapped"
    runner.invoke(drill_cli.app, ["reset", "file-gone"])

"""Drills are found by module, documented by a runbook that holds their fix verbatim, and run
through the engine's life cycle (one at a time, graded hints, checks that observe)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli.drill import app
from dojo.settings import REPO_ROOT, Settings, load_settings
from dojo.teaching.drills import engine, registry
from dojo.teaching.drills.base import DrillContext
from dojo.teaching.drills.registry import UnknownDrill, discover, get_drill
from drill_support import FileDrill

RUNBOOK_SECTIONS = ("## Symptom", "## Diagnose", "## Metrics and logs", "## Fix", "## Verify",
                    "## Prevention", "## Interview questions")
DRILLS = discover()


def test_the_first_drills_are_registered() -> None:
    assert {"broker-down", "mlflow-down", "port-taken"} <= set(DRILLS)
    with pytest.raises(UnknownDrill, match=r"drills: .*broker-down"):
        get_drill("no-such-drill")


@pytest.mark.parametrize("name", list(DRILLS))
def test_each_drill_is_documented_by_its_runbook(name: str) -> None:
    drill = DRILLS[name]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert drill.title and drill.symptom and len(drill.hints) >= 2 and drill.fix_commands
    page = (REPO_ROOT / drill.runbook).read_text()
    positions = [page.find(section) for section in RUNBOOK_SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), positions
    assert "dojo doctor" in page
    fix = page[page.index("## Fix"):page.index("## Verify")]
    for command in drill.fix_commands:
        assert command in fix, f"{name}: fix command {command!r} is not in the runbook's Fix"
    assert f"dojo drill check {name}" in page


def test_labs_index_links_every_runbook() -> None:
    index = (REPO_ROOT / "labs" / "README.md").read_text()
    for drill in DRILLS.values():
        assert Path(drill.runbook).name in index, drill.runbook


# --- the engine with a drill that breaks a file instead of the stack ---------------------------
@pytest.fixture
def file_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "discover", lambda: {"file-gone": FileDrill})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    (home / "the-file").touch()
    return load_settings(home=home)


def test_life_cycle_start_hint_check_fix_reset(file_drill: None, settings: Settings) -> None:
    engine.start(settings, "file-gone")
    with pytest.raises(engine.DrillStateError, match="already running"):
        engine.start(settings, "file-gone")
    assert not engine.check(settings, "file-gone").ok  # the symptom is observable
    hints = [engine.next_hint(settings, "file-gone") for _ in range(3)]
    assert [h.text for h in hints] == ["look for the file", "recreate it", None]
    ran = FileDrill().fix(DrillContext(settings))  # the runbook's commands, through bash
    assert [code for _, code, _ in ran] == [0]
    assert engine.check(settings, "file-gone").ok
    record = json.loads(settings.progress_path.read_text())
    assert "file-gone" in record["drills"]
    engine.reset(settings, "file-gone")
    with pytest.raises(engine.DrillStateError, match="not running"):
        engine.check(settings, "file-gone")


def test_check_observes_the_system_not_the_drill_state(file_drill: None,
                                                       settings: Settings) -> None:
    engine.start(settings, "file-gone")
    (settings.home / "drills" / "active.json").write_text(
        json.dumps({"name": "file-gone", "started_at": 0, "hints_shown": 0, "fixed": True}))
    assert not engine.check(settings, "file-gone").ok


def test_cli_errors_are_one_line_with_exit_codes(file_drill: None,
                                                 isolated_env: Settings) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["start", "nope"])
    assert unknown.exit_code == 2 and "no drill named 'nope'" in unknown.output
    not_running = runner.invoke(app, ["check", "file-gone"])
    assert not_running.exit_code == 2 and "is not running" in not_running.output
    (isolated_env.home).mkdir(parents=True, exist_ok=True)
    started = runner.invoke(app, ["start", "file-gone"])
    assert started.exit_code == 0 and "the file is missing" in started.output
    broken = runner.invoke(app, ["check", "file-gone"])
    assert broken.exit_code == 1 and "still broken" in broken.output
    hint = runner.invoke(app, ["hint", "file-gone"])
    assert "hint 1/2: look for the file" in hint.output
    reset = runner.invoke(app, ["reset", "file-gone"])
    assert reset.exit_code == 0 and "reset" in reset.output
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "file-gone" in listed.output

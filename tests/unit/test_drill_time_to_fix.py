"""`dojo drill check` reports the time since `dojo drill start`, and a pass keeps it in the
progress file (a drill that breaks a file, so nothing is started)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli.drill import app
from dojo.settings import Settings, load_settings
from dojo.teaching.drills import engine, registry
from dojo.teaching.drills.state import load_active, save_active
from dojo.teaching.progress import load_progress
from drill_support import FileDrill


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(registry, "discover", lambda: {"file-gone": FileDrill})
    home = tmp_path / "home"
    home.mkdir()
    (home / "the-file").touch()
    return load_settings(home=home)


def started_ago(settings: Settings, seconds: float) -> float:
    engine.start(settings, "file-gone")
    active = load_active(settings)
    assert active is not None
    active.started_at -= seconds
    save_active(settings, active)
    return active.started_at


def test_a_pass_records_the_time_to_fix(settings: Settings) -> None:
    started = started_ago(settings, 0)
    broken = engine.check(settings, "file-gone", now=started + 30)
    assert not broken.ok and broken.seconds == 30
    assert "file-gone" not in load_progress(settings.progress_path)["drills"]
    (settings.home / "the-file").touch()
    fixed = engine.check(settings, "file-gone", now=started + 95.44)
    assert fixed.ok and fixed.seconds == pytest.approx(95.44)
    assert load_progress(settings.progress_path)["drills"]["file-gone"]["seconds"] == 95.4


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "0 s"), (59.6, "1 min 0 s"),
                                               (75.4, "1 min 15 s"), (3600, "60 min 0 s")])
def test_durations_read_like_a_timeline(seconds: float, text: str) -> None:
    assert engine.duration(seconds) == text


def test_the_check_command_prints_the_time_to_fix(settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in settings.as_env().items():
        monkeypatch.setenv(key, value)
    started_ago(settings, 125)
    runner = CliRunner()
    still = runner.invoke(app, ["check", "file-gone"])
    assert still.exit_code == 1
    # 125 s plus however long the commands took on a loaded machine
    assert re.search(r"2 min [5-9] s since `dojo drill start file-gone`", still.output)
    (settings.home / "the-file").touch()
    fixed = runner.invoke(app, ["check", "file-gone"])
    assert fixed.exit_code == 0, fixed.output
    assert re.search(r"time to fix: 2 min [5-9] s \(from `dojo drill start file-gone` to this "
                     r"check\)", fixed.output)

"""The game day engine: several drills on one clock, next to the single-drill engine (drills
that break files, so nothing is started)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli.main import app
from dojo.settings import Settings, load_settings
from dojo.teaching.drills import engine as drills
from dojo.teaching.drills import registry
from dojo.teaching.drills.base import DrillContext, DrillError
from dojo.teaching.drills.registry import UnknownDrill
from dojo.teaching.drills.state import load_active
from dojo.teaching.gameday import engine
from dojo.teaching.gameday.state import load_gameday, load_last_gameday, save_gameday
from dojo.teaching.progress import load_progress
from drill_support import FileDrill


class OtherFileDrill(FileDrill):
    name = "other-gone"

    def target(self, ctx: DrillContext) -> Path:
        return ctx.settings.home / "other-file"


class BrokenInject(FileDrill):
    name = "cannot-inject"

    def inject(self, ctx: DrillContext) -> None:
        raise DrillError("inject failed on purpose")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    found = {cls.name: cls for cls in (FileDrill, OtherFileDrill, BrokenInject)}
    monkeypatch.setattr(registry, "discover", lambda: found)
    home = tmp_path / "home"
    home.mkdir()
    for name in ("the-file", "other-file"):
        (home / name).touch()
    return load_settings(home=home)


def started_ago(settings: Settings, seconds: float) -> float:
    engine.start(settings, ["file-gone", "other-gone"])
    gameday = load_gameday(settings)
    assert gameday is not None
    gameday.started_at -= seconds
    save_gameday(settings, gameday)
    return gameday.started_at


def test_drill_names_are_checked_before_anything_is_injected(settings: Settings) -> None:
    assert engine.parse_drills(None) == list(engine.DEFAULT_DRILLS)
    assert engine.parse_drills(" file-gone, other-gone ") == ["file-gone", "other-gone"]
    with pytest.raises(UnknownDrill, match="no drill named 'nope'"):
        engine.parse_drills("file-gone,nope")
    with pytest.raises(drills.DrillStateError, match="file-gone is named twice"):
        engine.parse_drills("file-gone,other-gone,file-gone")
    with pytest.raises(drills.DrillStateError, match="at least two"):
        engine.parse_drills("file-gone")


def test_the_default_drills_exist_and_need_only_the_local_stack() -> None:
    for name in engine.DEFAULT_DRILLS:
        assert registry.get_drill(name).needs == ("stack",)


def test_start_injects_every_fault_and_refuses_a_second_incident(settings: Settings) -> None:
    engine.start(settings, ["file-gone", "other-gone"])
    assert not (settings.home / "the-file").exists()
    assert not (settings.home / "other-file").exists()
    gameday = load_gameday(settings)
    assert gameday is not None and gameday.names == ["file-gone", "other-gone"]
    with pytest.raises(drills.DrillStateError, match=r"a game day is running \(2 faults\)"):
        drills.start(settings, "file-gone")
    with pytest.raises(drills.DrillStateError, match="a game day is running"):
        engine.start(settings, ["file-gone", "other-gone"])
    with pytest.raises(drills.DrillStateError, match="part of the running game day"):
        drills.reset(settings, "other-gone")
    assert load_active(settings) is None


def test_a_game_day_waits_for_the_single_drill_to_finish(settings: Settings) -> None:
    drills.start(settings, "file-gone")
    with pytest.raises(drills.DrillStateError, match="drill file-gone is running"):
        engine.start(settings, ["file-gone", "other-gone"])
    assert load_gameday(settings) is None


def test_a_failed_inject_undoes_the_faults_already_injected(settings: Settings) -> None:
    with pytest.raises(DrillError, match="on purpose"):
        engine.start(settings, ["file-gone", "cannot-inject"])
    assert (settings.home / "the-file").exists()
    assert load_gameday(settings) is None


def test_each_fix_is_timed_from_the_game_days_start(settings: Settings) -> None:
    started = started_ago(settings, 0)
    (settings.home / "other-file").touch()
    fixed = drills.check(settings, "other-gone", now=started + 40)
    assert fixed.ok and fixed.seconds == 40
    again = drills.check(settings, "other-gone", now=started + 90)
    assert again.ok
    broken = drills.check(settings, "file-gone", now=started + 95)
    assert not broken.ok
    gameday = load_gameday(settings)
    assert gameday is not None
    assert [d.fixed_after for d in gameday.drills] == [None, 40]  # the first pass counts
    assert gameday.restored_after is None
    assert load_progress(settings.progress_path)["drills"]["other-gone"]["seconds"] == 90


def test_a_drill_outside_the_game_day_is_refused(settings: Settings,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine.start(settings, ["file-gone", "other-gone"])
    found = dict(registry.discover())
    found["third"] = type("Third", (FileDrill,), {"name": "third"})
    monkeypatch.setattr(registry, "discover", lambda: found)
    with pytest.raises(drills.DrillStateError, match="third is not one of the game day's 2"):
        drills.check(settings, "third")


def test_the_game_day_check_observes_every_fault(settings: Settings) -> None:
    started = started_ago(settings, 0)
    faults, elapsed = engine.check(settings, now=started + 10)
    assert [f.ok for f in faults] == [False, False] and elapsed == 10
    (settings.home / "the-file").touch()
    engine.check(settings, now=started + 20)
    (settings.home / "other-file").touch()
    faults, _ = engine.check(settings, now=started + 65)
    assert [(f.number, f.name, f.ok, f.fixed_after) for f in faults] == [
        (1, "file-gone", True, 20), (2, "other-gone", True, 65)]
    gameday = load_gameday(settings)
    assert gameday is not None and gameday.restored_after == 65


def test_hints_are_counted_per_fault(settings: Settings) -> None:
    engine.start(settings, ["file-gone", "other-gone"])
    assert drills.next_hint(settings, "file-gone").number == 1
    assert drills.next_hint(settings, "file-gone").number == 2
    assert drills.next_hint(settings, "file-gone").text is None
    assert drills.next_hint(settings, "other-gone").number == 1


def test_reset_undoes_every_fault_and_keeps_the_game_day_for_the_report(
        settings: Settings) -> None:
    assert engine.reset(settings) == []  # nothing running: nothing to do
    engine.start(settings, ["file-gone", "other-gone"])
    assert engine.reset(settings) == ["file-gone", "other-gone"]
    assert (settings.home / "the-file").exists() and (settings.home / "other-file").exists()
    assert load_gameday(settings) is None
    last = load_last_gameday(settings)
    assert last is not None and last.names == ["file-gone", "other-gone"]
    drills.start(settings, "file-gone")  # single drills work again


def test_the_cli_says_one_line_and_exits_2_on_bad_input(settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in settings.as_env().items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    for args, message in ((["gameday", "start", "--drills", "file-gone,nope"], "no drill named"),
                          (["gameday", "start", "--drills", "file-gone,file-gone"], "twice")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, result.output
    started = runner.invoke(app, ["gameday", "start", "--drills", "file-gone,other-gone"])
    assert started.exit_code == 0, started.output
    assert "fault 2: the symptom" in started.output and "other-gone" not in started.output
    refused = runner.invoke(app, ["drill", "start", "file-gone"])
    assert refused.exit_code == 2
    assert refused.output.strip().startswith("error: a game day is running")
    assert len(refused.output.strip().splitlines()) == 1
    (settings.home / "the-file").touch()
    one = runner.invoke(app, ["drill", "check", "file-gone"])
    assert one.exit_code == 0, one.output
    assert "(from `dojo gameday start` to this check)" in one.output
    assert "`dojo gameday check` for the other faults" in one.output
    (settings.home / "other-file").touch()
    done = runner.invoke(app, ["gameday", "check"])
    assert done.exit_code == 0, done.output
    assert "Service restored: all 2 faults fixed" in done.output

"""The drill life cycle behind `dojo drill start|hint|check|reset`.

Why one drill at a time: two faults at once make each symptom ambiguous (is MLflow down
because of the port or because the broker is gone?). The capstone game day (lab 21) mixes
faults on purpose; the single drills teach one failure each. While a game day runs,
`dojo drill hint|check NAME` serve its drills (dojo/teaching/gameday/engine.py starts and
resets them), and `dojo drill start|reset` refuse, so the two never overlap.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from dojo.settings import Settings
from dojo.teaching.drills.base import Drill, DrillContext
from dojo.teaching.drills.registry import get_drill
from dojo.teaching.drills.state import ActiveDrill, clear_active, load_active, save_active
from dojo.teaching.gameday.state import GameDay, load_gameday, save_gameday
from dojo.teaching.labs.prerequisites import Missing, missing_prerequisites
from dojo.teaching.progress import record_drill


class DrillStateError(RuntimeError):
    """The request does not fit the drill in progress (another is active, none is)."""


class DrillPrerequisiteError(RuntimeError):
    """The drill needs Docker or a cluster this machine lacks."""

    def __init__(self, missing: Missing) -> None:
        super().__init__(missing.reason)
        self.missing = missing


@dataclass(frozen=True)
class Hint:
    number: int
    total: int
    text: str | None  # None: every hint was shown already


def gameday_running_error(gameday: GameDay) -> DrillStateError:
    """One message for every request a running game day refuses."""
    return DrillStateError(f"a game day is running ({len(gameday.drills)} faults): finish it "
                           f"(`dojo gameday check`), or `dojo gameday reset` first")


def _in_gameday(settings: Settings, name: str) -> GameDay | None:
    """The running game day, when it injected ``name``; an error when it did not."""
    gameday = load_gameday(settings)
    if gameday is None:
        return None
    if gameday.find(name) is None:
        raise DrillStateError(f"drill {name} is not one of the game day's {len(gameday.drills)} "
                              f"faults: `dojo gameday status` shows which are still open")
    return gameday


def _require_active(settings: Settings, name: str) -> ActiveDrill:
    active = load_active(settings)
    if active is None or active.name != name:
        running = f" (active: {active.name})" if active else ""
        raise DrillStateError(f"drill {name} is not running{running}: "
                              f"start it with `dojo drill start {name}`")
    return active


def start(settings: Settings, name: str, ensure_stack: bool = True) -> Drill:
    """Check prerequisites, make sure the stack runs, inject the fault, remember the drill."""
    drill = get_drill(name)
    gameday = load_gameday(settings)
    if gameday is not None:
        raise gameday_running_error(gameday)
    active = load_active(settings)
    if active is not None:
        raise DrillStateError(f"drill {active.name} is already running: finish it, or "
                              f"`dojo drill reset {active.name}` first")
    missing = missing_prerequisites(need for need in drill.needs if need != "stack")
    if missing:
        raise DrillPrerequisiteError(missing[0])
    ctx = DrillContext(settings)
    if ensure_stack and "stack" in drill.needs:
        stack = ctx.stack()
        if not stack.is_up():
            stack.up()
    try:
        drill.inject(ctx)
    except BaseException:
        with contextlib.suppress(Exception):  # the inject error is the one to report
            drill.reset(ctx)  # a half-injected fault must not outlive a failed start
        raise
    save_active(settings, ActiveDrill(name=name))
    return drill


def next_hint(settings: Settings, name: str) -> Hint:
    """The next hint of the active drill (each call shows one more)."""
    drill = get_drill(name)
    total = len(drill.hints)
    gameday = _in_gameday(settings, name)
    if gameday is not None:
        fault = gameday.find(name)
        assert fault is not None  # _in_gameday raised otherwise
        shown = fault.hints_shown = min(fault.hints_shown + 1, total + 1)
        save_gameday(settings, gameday)
    else:
        active = _require_active(settings, name)
        shown = active.hints_shown = min(active.hints_shown + 1, total + 1)
        save_active(settings, active)
    if shown > total:
        return Hint(total, total, None)
    return Hint(shown, total, drill.hints[shown - 1])


@dataclass(frozen=True)
class Verdict:
    """A drill's check, and the time since `dojo drill start`: on a pass, the time to fix.

    Why the engine measures it: the start is on disk (state.py), minutes and commands away
    from the check; incident response is judged by time to recover, so the learner sees it at
    once and the progress file keeps it (`dojo progress`)."""

    ok: bool
    detail: str
    seconds: float
    in_gameday: bool = False  # then the clock started at `dojo gameday start`


def check(settings: Settings, name: str, now: float | None = None) -> Verdict:
    """Observe whether the fault is fixed; a pass is recorded with its time to fix.

    In a game day the clock is the game day's: each fault's time to fix runs from
    `dojo gameday start`, and its first pass is kept for the game day's total."""
    drill = get_drill(name)
    gameday = _in_gameday(settings, name)
    started_at = (_require_active(settings, name).started_at if gameday is None
                  else gameday.started_at)
    result = drill.check(DrillContext(settings))
    seconds = max(0.0, (time.time() if now is None else now) - started_at)
    if result.ok:
        record_drill(settings.progress_path, name, seconds)
        fault = gameday.find(name) if gameday is not None else None
        if gameday is not None and fault is not None and fault.fixed_after is None:
            fault.fixed_after = seconds
            save_gameday(settings, gameday)
    return Verdict(result.ok, result.detail, seconds, in_gameday=gameday is not None)


def duration(seconds: float) -> str:
    """``75.4`` as ``1 min 15 s``: how a time to fix reads in an incident timeline."""
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def reset(settings: Settings, name: str) -> Drill:
    """Undo the fault (whether or not it was fixed) and forget the active drill."""
    drill = get_drill(name)
    gameday = load_gameday(settings)
    if gameday is not None and gameday.find(name) is not None:
        raise DrillStateError(f"drill {name} is part of the running game day: "
                              f"`dojo gameday reset` resets all its faults")
    active = load_active(settings)
    if active is not None and active.name != name:
        raise DrillStateError(f"drill {active.name} is the one running: "
                              f"`dojo drill reset {active.name}`")
    drill.reset(DrillContext(settings))
    clear_active(settings)
    return drill

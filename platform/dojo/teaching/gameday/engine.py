"""The game day behind `dojo gameday start|status|check|reset`: several drills at once, one clock.

Why these two by default: they break different layers (the stream processor stops; the model
server refuses clients with 429), so neither fix undoes the other, and one of them is invisible
to `dojo doctor`: after the obvious fix the doctor is green while clients are still refused,
so the learner has to tell a fixed symptom from a fixed incident. Both inject and are fixed in
seconds on a laptop. Not every pair is independent: `dojo up` restarts the model server after
MLflow (its dependency), so with mlflow-down the restart also resets the limit, and the
runbook's fix is never exercised (lab 21's "Break it" shows it).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from dojo.settings import Settings
from dojo.teaching.drills import engine as drills
from dojo.teaching.drills.base import Drill, DrillContext
from dojo.teaching.drills.registry import get_drill
from dojo.teaching.drills.state import load_active
from dojo.teaching.gameday.state import (
    GameDay,
    GameDayDrill,
    finish_gameday,
    load_gameday,
    save_gameday,
)
from dojo.teaching.labs.prerequisites import missing_prerequisites

DEFAULT_DRILLS = ("consumer-stopped", "rate-limit-too-low")


def parse_drills(text: str | None) -> list[str]:
    """``a,b,c`` as drill names, checked: known, no duplicates, at least two.

    Raises UnknownDrill or DrillStateError with one line naming the bad value."""
    if text is None:
        return list(DEFAULT_DRILLS)
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        get_drill(name)  # UnknownDrill lists the drills that exist
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise drills.DrillStateError(f"drill {duplicates[0]} is named twice in --drills: "
                                     f"each fault is injected once")
    if len(names) < 2:
        raise drills.DrillStateError("a game day needs at least two drills (one is "
                                     "`dojo drill start NAME`)")
    return names


def start(settings: Settings, names: list[str], ensure_stack: bool = True) -> list[Drill]:
    """Inject every drill in order, then start the clock; a failed inject undoes them all."""
    if (running := load_gameday(settings)) is not None:
        raise drills.gameday_running_error(running)
    if (active := load_active(settings)) is not None:
        raise drills.DrillStateError(f"drill {active.name} is running: finish it, or "
                                     f"`dojo drill reset {active.name}` first")
    chosen = [get_drill(name) for name in names]
    missing = missing_prerequisites(need for drill in chosen for need in drill.needs
                                    if need != "stack")
    if missing:
        raise drills.DrillPrerequisiteError(missing[0])
    ctx = DrillContext(settings)
    if ensure_stack and any("stack" in drill.needs for drill in chosen):
        stack = ctx.stack()
        if not stack.is_up():
            stack.up()
    injected: list[Drill] = []
    try:
        for drill in chosen:
            injected.append(drill)  # reset even a half-injected fault
            drill.inject(ctx)
    except BaseException:
        for drill in reversed(injected):
            with contextlib.suppress(Exception):  # the inject error is the one to report
                drill.reset(ctx)
        raise
    save_gameday(settings, GameDay(drills=[GameDayDrill(name) for name in names]))
    return chosen


def require_gameday(settings: Settings) -> GameDay:
    gameday = load_gameday(settings)
    if gameday is None:
        raise drills.DrillStateError("no game day is running: start one with "
                                     "`dojo gameday start`")
    return gameday


@dataclass(frozen=True)
class Fault:
    """One fault of the game day as observed now, with the time of its first passing check."""

    number: int
    name: str
    ok: bool
    detail: str
    fixed_after: float | None


def check(settings: Settings, now: float | None = None) -> tuple[list[Fault], float]:
    """Observe every fault (through `dojo drill check`'s engine, so passes are timed and
    recorded) and return them with the seconds since the start."""
    gameday = require_gameday(settings)
    faults = []
    for number, name in enumerate(gameday.names, start=1):
        verdict = drills.check(settings, name, now=now)
        fixed = require_gameday(settings).find(name)
        faults.append(Fault(number, name, verdict.ok, verdict.detail,
                            fixed.fixed_after if fixed else None))
    return faults, max(0.0, (time.time() if now is None else now) - gameday.started_at)


def reset(settings: Settings) -> list[str]:
    """Reset every fault (newest first), then forget the game day; the drills reset.

    A reset that fails is re-raised after the others ran, so one stuck fault does not leave
    the rest of the stack broken."""
    gameday = load_gameday(settings)
    if gameday is None:
        return []
    ctx = DrillContext(settings)
    failure: Exception | None = None
    for name in reversed(gameday.names):
        try:
            get_drill(name).reset(ctx)
        except Exception as error:  # keep resetting the others; the first error is raised
            failure = failure or error
    if failure is not None:
        raise failure
    finish_gameday(settings)
    return gameday.names

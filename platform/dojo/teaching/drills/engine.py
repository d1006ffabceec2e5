"""The drill life cycle behind `dojo drill start|hint|check|reset`.

Why one drill at a time: two faults at once make each symptom ambiguous (is MLflow down
because of the port or because the broker is gone?). The capstone game day (lab 21) mixes
faults on purpose; the single drills teach one failure each.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from dojo.settings import Settings
from dojo.teaching.drills.base import Drill, DrillContext
from dojo.teaching.drills.registry import get_drill
from dojo.teaching.drills.state import ActiveDrill, clear_active, load_active, save_active
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
    active = _require_active(settings, name)
    total = len(drill.hints)
    if active.hints_shown >= total:
        return Hint(total, total, None)
    active.hints_shown += 1
    save_active(settings, active)
    return Hint(active.hints_shown, total, drill.hints[active.hints_shown - 1])


@dataclass(frozen=True)
class Verdict:
    """A drill's check, and the time since `dojo drill start`: on a pass, the time to fix.

    Why the engine measures it: the start is on disk (state.py), minutes and commands away
    from the check; incident response is judged by time to recover, so the learner sees it at
    once and the progress file keeps it (`dojo progress`)."""

    ok: bool
    detail: str
    seconds: float


def check(settings: Settings, name: str, now: float | None = None) -> Verdict:
    """Observe whether the fault is fixed; a pass is recorded with its time to fix."""
    drill = get_drill(name)
    active = _require_active(settings, name)
    result = drill.check(DrillContext(settings))
    seconds = max(0.0, (time.time() if now is None else now) - active.started_at)
    if result.ok:
        record_drill(settings.progress_path, name, seconds)
    return Verdict(result.ok, result.detail, seconds)


def duration(seconds: float) -> str:
    """``75.4`` as ``1 min 15 s``: how a time to fix reads in an incident timeline."""
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def reset(settings: Settings, name: str) -> Drill:
    """Undo the fault (whether or not it was fixed) and forget the active drill."""
    drill = get_drill(name)
    active = load_active(settings)
    if active is not None and active.name != name:
        raise DrillStateError(f"drill {active.name} is the one running: "
                              f"`dojo drill reset {active.name}`")
    drill.reset(DrillContext(settings))
    clear_active(settings)
    return drill

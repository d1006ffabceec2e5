"""Every drill against a real stack: inject → the symptom is observable → the runbook's fix →
the check passes → reset leaves a healthy stack.

Why the runbook's own commands: `Drill.fix` runs the fix commands a unit test holds verbatim to
the runbook page, through bash with the stack's DOJO_* exported, so a runbook whose fix stops
working fails here rather than in front of a learner.
"""

from __future__ import annotations

import pytest

from dojo.runtime.stack import Stack
from dojo.settings import Settings
from dojo.teaching.drills import engine
from dojo.teaching.drills.base import DrillContext
from dojo.teaching.drills.registry import discover
from dojo.teaching.drills.state import load_active
from dojo.teaching.progress import load_progress


def assert_healthy(settings: Settings) -> None:
    bad = {s.name: s.detail for s in Stack(settings).status()
           if s.state in {"stopped", "unhealthy"}}
    assert not bad, f"stack not healthy: {bad}"


@pytest.mark.parametrize("name", list(discover()))
def test_drill_inject_fix_check_reset(name: str, healthy_stack: Settings) -> None:
    settings = healthy_stack
    drill = engine.start(settings, name)
    try:
        broken = engine.check(settings, name)
        assert not broken.ok, f"{name}: the symptom is not observable after inject"
        assert broken.detail
        steps = drill.fix(DrillContext(settings))
        fixed = engine.check(settings, name)
        transcript = "\n".join(f"$ {cmd}  -> exit {code}\n{out[-800:]}" for cmd, code, out in steps)
        assert fixed.ok, f"{name}: still broken after the runbook's fix ({fixed.detail}):\n" \
                         f"{transcript}"
        assert name in load_progress(settings.progress_path)["drills"]
    finally:
        engine.reset(settings, name)
    assert load_active(settings) is None
    assert_healthy(settings)


def test_reset_without_a_fix_restores_the_stack(healthy_stack: Settings) -> None:
    engine.start(healthy_stack, "port-taken")
    assert not engine.check(healthy_stack, "port-taken").ok
    engine.reset(healthy_stack, "port-taken")
    assert_healthy(healthy_stack)

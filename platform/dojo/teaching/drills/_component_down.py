"""Shared shape of the "a component of the stack is stopped" drills (broker, MLflow, ...).

Why shared: stopping a supervised process, observing its health probe and restarting it with
`dojo up` is the same for every component; only the symptom, the hints and the runbook differ.
The leading underscore keeps the registry from treating this module as a drill.
"""

from __future__ import annotations

from typing import ClassVar

from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError


class ComponentDown(Drill):
    """Stop one supervised component; fixed when its health probe passes again."""

    component: ClassVar[str]
    fix_commands: ClassVar[tuple[str, ...]] = ("dojo up",)

    def inject(self, ctx: DrillContext) -> None:
        stack = ctx.stack()
        ctx.wait_for(lambda: ctx.health(self.component), what=self.component)
        stack.stop(self.component)
        down = ctx.health(self.component)
        if down.ok:
            raise DrillError(f"{self.component} still answers after it was stopped: {down.detail}")

    def check(self, ctx: DrillContext) -> Check:
        return ctx.health(self.component)

    def reset(self, ctx: DrillContext) -> None:
        ctx.stack().up()  # starts whatever is stopped, health-gated; a no-op when all run
        ctx.wait_for(lambda: ctx.health(self.component), what=self.component)

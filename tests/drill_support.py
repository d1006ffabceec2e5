"""A drill that breaks a file instead of the stack, for tests of the drill engine and CLI.

Why a real `Drill` subclass: the engine, the registry and `dojo drill` are exercised exactly as
with the stack's drills, without a stack to break.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from dojo.teaching.drills.base import Check, Drill, DrillContext


class FileDrill(Drill):
    """Fault: a file disappears. Fixed when it exists again (observed, not remembered)."""

    name = "file-gone"
    title = "A file is gone"
    symptom = "the file is missing"
    hints: ClassVar = ("look for the file", "recreate it")
    runbook = "labs/drills/README.md"
    fix_commands = ('touch "$DOJO_HOME/the-file"',)
    needs = ()

    def target(self, ctx: DrillContext) -> Path:
        return ctx.settings.home / "the-file"

    def inject(self, ctx: DrillContext) -> None:
        self.target(ctx).unlink(missing_ok=True)

    def check(self, ctx: DrillContext) -> Check:
        return Check(self.target(ctx).exists(), str(self.target(ctx)))

    def reset(self, ctx: DrillContext) -> None:
        self.target(ctx).touch()

"""What the drills with a misbehaving upstream producer share: the producer is a detached
process of this stack (`poison-messages`, `amount-in-cents`); the fix finds it with pgrep, as a
person would, and kills it; the reset stops it in any case and waits for a working pipeline.

Why the bootstrap address in the match: several stacks can run on one machine (the tests start
their own), and a fix must only ever kill the producer that talks to *this* stack's broker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from dojo.teaching.drills._stream import pipeline_works
from dojo.teaching.drills.base import (
    Drill,
    DrillContext,
    command_line_has,
    stop_recorded_process,
)


class RogueProducerDrill(Drill):
    """A drill whose fault is a producer process; subclasses set ``producer_module``."""

    producer_module: ClassVar[str]  # the module run with `python -m`, e.g. `..._legacy_pos`

    def _pid_file(self, ctx: DrillContext) -> Path:
        return ctx.state_dir / f"{self.name}.pid"

    def _is_ours(self, pid: int, ctx: DrillContext) -> bool:
        return command_line_has(pid, self.producer_module, ctx.settings.bootstrap_servers)

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """The runbook's steps: find the producer of *this* stack with pgrep, kill it."""
        find, kill = self.fix_commands
        code, output = ctx.shell(find)
        steps = [(find, code, output)]
        mine = re.compile(rf"^(\d+) .*--bootstrap {re.escape(ctx.settings.bootstrap_servers)}\b",
                          re.MULTILINE)
        found = mine.search(output)
        if found is not None:
            command = kill.replace("<PID>", found.group(1))
            steps.append((command, *ctx.shell(command)))
        return steps

    def reset(self, ctx: DrillContext) -> None:
        stop_recorded_process(self._pid_file(ctx), lambda pid: self._is_ours(pid, ctx))
        ctx.stack().up()
        ctx.wait_for(lambda: pipeline_works(ctx), what="the stream pipeline")

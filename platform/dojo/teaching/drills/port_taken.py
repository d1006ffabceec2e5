"""Drill: another process took MLflow's port while MLflow was down, so it cannot come back.

Why this fault: "address already in use" is among the most common reasons a service will not
start after a restart (a leftover dev server, a second copy, a container publishing the same
port). The platform's answer is to check ports before starting anything and to name the holder,
so the learner's job is to read that message and act on it, not to guess.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dojo.runtime.ports import port_is_free
from dojo.teaching.drills.base import (
    Check,
    Drill,
    DrillContext,
    DrillError,
    command_line_has,
    run_pid_fix,
    start_detached,
    stop_recorded_process,
)

COMPONENT = "mlflow"
# `dojo up` names the holder as "... is taken by pid 1234 (command line)".
_HOLDER_PID = re.compile(r"taken\s+by\s+pid\s+(\d+)")  # rich may wrap the line


class PortTaken(Drill):
    name = "port-taken"
    title = "A stray process holds MLflow's port"
    symptom = (
        "The MLflow UI answers with a plain directory listing instead of MLflow, and "
        "`dojo up` refuses to start anything."
    )
    hints = (
        "Read what `dojo up` prints, all of it: it checks every port before it starts anything.",
        "`dojo doctor` shows MLflow's process is stopped and names who holds its port. "
        "`ss -ltnp` (or `lsof -iTCP -sTCP:LISTEN`) confirms it from the OS side.",
        "The holder is a stray `python -m http.server`. Stop it with `kill <PID>` using the pid "
        "`dojo up` printed, then run `dojo up` again.",
    )
    runbook = "labs/drills/port-taken.md"
    fix_commands = ("dojo up", "kill <PID>", "dojo up")

    # --- the stray process ------------------------------------------------------------
    def _pid_file(self, ctx: DrillContext) -> Path:
        return ctx.state_dir / "port-taken.pid"

    def _port(self, ctx: DrillContext) -> int:
        return ctx.settings.mlflow_port

    def _is_ours(self, pid: int, port: int) -> bool:
        """The recorded pid is still our http.server (pids are reused; never kill a stranger)."""
        return command_line_has(pid, "http.server", str(port))

    def inject(self, ctx: DrillContext) -> None:
        port, host = self._port(ctx), ctx.settings.host
        ctx.stack().stop(COMPONENT)
        ctx.wait_for(lambda: Check(port_is_free(host, port), f"port {port} still bound"),
                     deadline_s=30, what=f"port {port}")
        empty = ctx.state_dir / "port-taken-www"  # what the stray server lists: nothing of ours
        empty.mkdir(parents=True, exist_ok=True)
        # Detached: it outlives this command, like a forgotten server.
        holder = start_detached(ctx, self.name,
                                [sys.executable, "-m", "http.server", "--bind", host, str(port)],
                                cwd=empty)
        ctx.wait_for(lambda: Check(not port_is_free(host, port) or holder.poll() is not None,
                                   f"port {port} not bound yet"),
                     deadline_s=15, what="the stray server")
        if holder.poll() is not None:
            raise DrillError(f"the stray server exited at once; see {ctx.state_dir}/port-taken.log")

    def check(self, ctx: DrillContext) -> Check:
        return ctx.health(COMPONENT)

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """The runbook's steps: read the holder's pid from `dojo up`, kill it, `dojo up` again."""
        return run_pid_fix(ctx, self.fix_commands, _HOLDER_PID)

    def reset(self, ctx: DrillContext) -> None:
        port = self._port(ctx)
        stop_recorded_process(self._pid_file(ctx), lambda pid: self._is_ours(pid, port))
        ctx.stack().up()
        ctx.wait_for(lambda: ctx.health(COMPONENT), what=COMPONENT)

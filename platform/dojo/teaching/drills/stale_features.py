"""Drill: the stream processor hangs. Its process is alive, its features go stale.

Why this fault: "the process is running" is not "the service works". A consumer stuck on a lock,
in a long GC pause or on a dead connection keeps its pid, so a supervisor that only watches the
process never restarts it. The drill freezes the processor with SIGSTOP, the closest a laptop
gets to a hang: the supervisor still says RUNNING, the group evicts the member after its
session timeout, and the online store stops changing. The check sends a canary event and waits
for it in the online store, which only a working pipeline passes.
"""

from __future__ import annotations

import os
import re
import signal

import psutil

from dojo.teaching.drills._stream import (
    STREAM,
    canary_check,
    pipeline_works,
    produce_events,
    stream_pid,
)
from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError, run_pid_fix

# `dojo status` prints the processor's row as "stream │ http://… │ unhealthy │ pid 1234; …"
_STATUS_PID = re.compile(r"│\s*stream\s*│.*?pid\s+(\d+)")


class StaleFeatures(Drill):
    name = "stale-features"
    title = "The stream processor hangs; online features go stale"
    symptom = (
        "Transactions are scored with stale features: new events keep arriving in Kafka, but "
        "the online store's newest row stops getting newer. The supervisor says every process "
        "is RUNNING."
    )
    hints = (
        "How old is the newest online row (`dojo features freshness`), and does the stream "
        "processor answer its health check (`dojo status`, `dojo doctor`)?",
        "The processor's process exists (same pid) but its /metrics times out and its log has "
        "stopped: it is hung, not crashed. `ps -o pid,stat,cmd -p <PID>` shows its state.",
        "A hung process has to be restarted: `kill -9 <PID>` (the pid `dojo status` shows), the "
        "supervisor starts a fresh one, and `dojo up` waits until it is healthy. It resumes from "
        "the committed offsets.",
    )
    runbook = "labs/drills/stale-features.md"
    fix_commands = ("dojo status", "kill -9 <PID>", "dojo up")

    def inject(self, ctx: DrillContext) -> None:
        ready = pipeline_works(ctx)
        if not ready.ok:
            raise DrillError(f"the stream is not healthy before the drill: {ready.detail}")
        pid = stream_pid(ctx.settings)
        if pid is None:
            raise DrillError("the stream processor is not running; start it with `dojo up`")
        os.kill(pid, signal.SIGSTOP)
        produce_events(ctx.settings, 20, "stale-features")
        frozen = ctx.health(STREAM)
        if frozen.ok:
            raise DrillError(f"the processor still answers after SIGSTOP: {frozen.detail}")

    def check(self, ctx: DrillContext) -> Check:
        return canary_check(ctx)

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """The runbook's steps: read the pid from `dojo status`, kill it, `dojo up`."""
        return run_pid_fix(ctx, self.fix_commands, _STATUS_PID)

    def reset(self, ctx: DrillContext) -> None:
        pid = stream_pid(ctx.settings)
        if pid is not None:
            try:
                if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                    os.kill(pid, signal.SIGCONT)  # thaw rather than kill: nothing is lost
            except psutil.Error:
                pass
        ctx.stack().up()
        ctx.wait_for(lambda: ctx.health(STREAM), what=STREAM)
        ctx.wait_for(lambda: pipeline_works(ctx), what="the stream pipeline")

"""Drill: an upstream producer sends events the platform cannot read. The DLQ grows.

Why this fault: a consumer that crashed on a bad event would block its partition forever (a
"poison pill"); this processor routes it to the DLQ with the reason and carries on, so the
platform stays up and the damage is contained. But the DLQ only contains the problem: somebody
has to read the reason, find the producer, and stop the bleeding upstream. The check observes
exactly that: the processor is caught up and nothing new has reached the DLQ for a while.
"""

from __future__ import annotations

import sys
import time

from dojo.teaching.drills._rogue_producer import RogueProducerDrill
from dojo.teaching.drills._stream import caught_up, pipeline_works
from dojo.teaching.drills.base import (
    Check,
    DrillContext,
    DrillError,
    start_detached,
)

MODULE = "dojo.teaching.drills._legacy_pos"
RATE = 4.0  # events per second: a DLQ that grows every few seconds, not a flood
QUIET_S = 3.0  # the DLQ counts as quiet once its newest message is this old
CHECK_DEADLINE_S = 20.0


class PoisonMessages(RogueProducerDrill):
    name = "poison-messages"
    title = "An upstream producer sends poison messages"
    symptom = (
        "The dead-letter queue keeps growing: `dojo_stream_dlq_total` on the stream "
        "processor's /metrics rises every few seconds, yet the processor itself is healthy "
        "and `dojo doctor` is all green."
    )
    hints = (
        "Read the DLQ: every rejected event keeps its original bytes, and the `dlq.reason` "
        "header says why it was rejected (the runbook has a three-line reader).",
        "Every new DLQ message has the same reason (the amount is text with a decimal comma) "
        "and comes from the same terminal `pos-legacy-terminal-01`: one upstream producer has "
        "a formatting bug. Find it among the running processes: `pgrep -af legacy_pos`.",
        "Stop the bad producer: `kill <PID>` (the pid `pgrep` printed for your broker's "
        "address). In production you would roll back its last deploy; its rejected events "
        "stay in the DLQ for a replay once they are repaired.",
    )
    producer_module = MODULE
    runbook = "labs/drills/poison-messages.md"
    fix_commands = ("pgrep -af legacy_pos", "kill <PID>")
    defect = "comma"  # the gateway's defect (dojo.teaching.drills._legacy_pos)

    # --- the misbehaving producer ------------------------------------------------------
    def inject(self, ctx: DrillContext) -> None:
        ready = pipeline_works(ctx)
        if not ready.ok:
            raise DrillError(f"the stream is not healthy before the drill: {ready.detail}")
        started = time.time()
        gateway = start_detached(ctx, self.name, [
            sys.executable, "-m", MODULE, "--bootstrap", ctx.settings.bootstrap_servers,
            "--rate", str(RATE), "--defect", self.defect])

        def dlq_grows() -> Check:
            if gateway.poll() is not None:
                raise DrillError("the legacy gateway exited at once; see "
                                 f"{ctx.state_dir}/{self.name}.log")
            return self._dlq_growing_since(ctx, started)

        ctx.wait_for(dlq_grows, deadline_s=30, what="the DLQ to grow")

    def _dlq_growing_since(self, ctx: DrillContext, since: float) -> Check:
        from dojo.ingestion.kafka_inspect import newest_message_time

        newest = newest_message_time(ctx.settings)
        ok = newest is not None and newest >= since
        return Check(ok, "the DLQ received a message" if ok else "no new DLQ message yet")

    # --- check: caught up, and the DLQ has gone quiet ------------------------------------
    def check(self, ctx: DrillContext) -> Check:
        from dojo.ingestion.kafka_inspect import newest_message_time

        up = caught_up(ctx)
        if not up.ok:
            return up
        started = time.time()
        deadline = time.monotonic() + CHECK_DEADLINE_S
        while True:
            newest = newest_message_time(ctx.settings)
            now = time.time()
            if newest is None or now - newest >= QUIET_S:
                quiet = "empty" if newest is None else f"quiet for {now - newest:.1f} s"
                return Check(True, f"the DLQ is {quiet} and the processor is caught up "
                                   f"({up.detail})")
            if newest > started + 1.0:
                return Check(False, f"the DLQ is still growing: a message arrived "
                                    f"{now - newest:.1f} s ago, after this check began")
            if time.monotonic() > deadline:
                return Check(False, f"the DLQ's newest message is {now - newest:.1f} s old")
            time.sleep(0.25)  # poll interval, bounded by the deadline

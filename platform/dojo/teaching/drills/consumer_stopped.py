"""Drill: the stream processor is stopped while transactions keep arriving. Lag grows.

Why this fault: a consumer that is down fails quietly. Producers keep writing, the broker is
healthy, nothing errors; the only signals are consumer lag and features that stop changing. And
the processor's own lag gauge disappears with the processor, so the learner has to measure lag
from the broker's side (committed offsets against end offsets), as an alert on lag must.
"""

from __future__ import annotations

from dojo.teaching.drills._component_down import ComponentDown
from dojo.teaching.drills._stream import (
    STREAM,
    caught_up,
    lag_check,
    pipeline_works,
    produce_events,
)
from dojo.teaching.drills.base import Check, DrillContext, DrillError

# Enough to be a visible backlog, few enough that the catch-up takes well under a second.
BACKLOG = 60


class ConsumerStopped(ComponentDown):
    name = "consumer-stopped"
    title = "The stream processor stopped consuming"
    component = STREAM
    symptom = (
        "Fraud features have stopped updating: new transactions are being written to Kafka, "
        "but `dojo features get` returns the same values as before and the DLQ no longer grows."
    )
    hints = (
        "Is anything consuming `transactions`? Measure how far the consumer group "
        "`dojo-stream-processor` is behind (the runbook shows how to read committed offsets), "
        "and run `dojo doctor`.",
        "The group's committed offsets have stopped moving while the end offsets grow, and the "
        "processor's own /metrics no longer answers: its process is not running "
        "(`dojo status`, `dojo logs stream`).",
        "It was stopped cleanly: `dojo up` starts it again. It resumes from the committed "
        "offsets, so the backlog is processed, not skipped; watch the lag return to 0.",
    )
    runbook = "labs/drills/consumer-stopped.md"
    fix_commands = ("dojo up",)

    def inject(self, ctx: DrillContext) -> None:
        ready = pipeline_works(ctx)
        if not ready.ok:
            raise DrillError(f"the stream is not healthy before the drill: {ready.detail}")
        super().inject(ctx)  # stops the processor (it commits and leaves the group first)
        produce_events(ctx.settings, BACKLOG, "consumer-stopped")
        backlog = lag_check(ctx.settings)
        if backlog.ok:
            raise DrillError(f"no lag after producing {BACKLOG} events: {backlog.detail}")

    def check(self, ctx: DrillContext) -> Check:
        return caught_up(ctx)

    def reset(self, ctx: DrillContext) -> None:
        super().reset(ctx)  # `dojo up`, health-gated
        ctx.wait_for(lambda: pipeline_works(ctx), what="the stream pipeline")

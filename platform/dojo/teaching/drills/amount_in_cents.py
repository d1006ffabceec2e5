"""Drill: an upstream release sends the amount in cents. Every event is valid; none is right.

Why this fault: it is the quiet sibling of `schema-renamed-field`. The field keeps its name
and its type, the value stays positive and below the contract's bound, so schema validation
passes and nothing is dead-lettered. The model sees a grocery payment of 4,029 EUR. Only a
check on the *values* catches it: the stream processor counts amounts far above the training
range (`dojo_stream_amount_out_of_range_total`, DOJO_STREAM_AMOUNT_MAX), and the drift monitor
is the second line once predictions are made. The check observes that counter: it must stop
growing while the processor is caught up.
"""

from __future__ import annotations

import re
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

MODULE = "dojo.teaching.drills._checkout_v2"
COUNTER = "dojo_stream_amount_out_of_range_total"
RATE = 8.0  # events per second; ~40% of them above the range: a counter that moves each second
QUIET_S = 6.0  # the counter must stand still this long (the gateway trips it ~3 times a second)
INJECT_DEADLINE_S = 45.0


def out_of_range_count(ctx: DrillContext) -> float | None:
    """The stream processor's counter, read from its /metrics (None: it does not answer)."""
    import httpx

    url = f"http://{ctx.settings.host}:{ctx.settings.stream_metrics_port}/metrics"
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return None
    found = re.search(rf"^{COUNTER} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


class AmountInCents(RogueProducerDrill):
    name = "amount-in-cents"
    title = "An upstream release sends the amount in cents"
    symptom = (
        "Since the checkout team's release this afternoon, some customers' fraud features "
        "look wrong: their amount averages are in the thousands. The DLQ is quiet, `dojo "
        "doctor` is all green, and the stream processor keeps up."
    )
    hints = (
        "Nothing is rejected, so look at the values, not the schema: the stream processor "
        "counts valid events with implausible amounts (`dojo_stream_amount_out_of_range_total` "
        "on its /metrics) and logs an example of each batch (`dojo logs stream`).",
        "The out-of-range events all carry ids starting with `web-v2-` and amounts about 100 "
        "times the usual ones: one producer sends minor units (cents). Find it among the "
        "running processes: `pgrep -af checkout`.",
        "Stop the producer (`kill <PID>`, in production: roll back its release) and watch the "
        "counter stand still; its events already applied stay in the offline store and in "
        "its customers' windows until they are corrected and replayed.",
    )
    producer_module = MODULE
    runbook = "labs/drills/amount-in-cents.md"
    fix_commands = ("pgrep -af checkout_v2", "kill <PID>")

    def inject(self, ctx: DrillContext) -> None:
        ready = pipeline_works(ctx)
        if not ready.ok:
            raise DrillError(f"the stream is not healthy before the drill: {ready.detail}")
        before = out_of_range_count(ctx)
        if before is None:
            raise DrillError("the stream processor's /metrics does not answer")
        gateway = start_detached(ctx, self.name, [
            sys.executable, "-m", MODULE, "--bootstrap", ctx.settings.bootstrap_servers,
            "--rate", str(RATE)])

        def counted() -> Check:
            if gateway.poll() is not None:
                raise DrillError(f"the checkout gateway exited at once; see "
                                 f"{ctx.state_dir}/{self.name}.log")
            now = out_of_range_count(ctx)
            grew = now is not None and now > before
            return Check(grew, f"{COUNTER} = {now}")

        ctx.wait_for(counted, deadline_s=INJECT_DEADLINE_S,
                     what="out-of-range amounts to reach the stream processor")

    def check(self, ctx: DrillContext) -> Check:
        """Caught up, then the counter stands still for QUIET_S (a live gateway moves it)."""
        up = caught_up(ctx)
        if not up.ok:
            return up
        first = out_of_range_count(ctx)
        if first is None:
            return Check(False, "the stream processor's /metrics does not answer")
        started = time.monotonic()
        while time.monotonic() - started < QUIET_S:
            time.sleep(0.5)  # poll interval, bounded by QUIET_S
            now = out_of_range_count(ctx)
            if now is not None and now > first:
                waited = time.monotonic() - started
                return Check(False, f"{now - first:g} more events with an amount above "
                                    f"{ctx.settings.stream_amount_max:,.0f} in {waited:.1f} s "
                                    f"({COUNTER} = {now:g})")
        return Check(True, f"no amount above {ctx.settings.stream_amount_max:,.0f} for "
                           f"{QUIET_S:g} s ({COUNTER} stays at {first:g}) and the processor "
                           f"is caught up ({up.detail})")

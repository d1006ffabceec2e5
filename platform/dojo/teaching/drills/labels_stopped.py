"""Drill: the labelling feed stalls. Predictions go on; live performance becomes unknowable.

Why this fault: a fraud model's ground truth comes late and from somebody else (chargebacks,
analysts' case decisions). When that feed stops, nothing breaks: transactions flow, the model
scores, the drift monitor runs. Only the live PR-AUC silently stops being computed, and a model
that degrades meanwhile is not noticed until losses show it. The platform has to alert on the
*absence* of labels (`DojoLabelsStopped`), which an error-rate alert never sees.

In the local stack, `dojo generate stream` plays the card network and the issuer's chargeback
feed: every event's label follows `--label-delay-s` later. The drill starts that traffic with a
feed stalled for an hour (labels held back 3,600 s instead of seconds). The check observes the
monitor: labels must reach it again (`dojo_monitor_messages_total{topic="labels"}` grows).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

from dojo.teaching.drills._stream import lag_check, pipeline_works
from dojo.teaching.drills.base import (
    Check,
    Drill,
    DrillContext,
    DrillError,
    command_line_has,
    start_detached,
    stop_recorded_process,
)

MONITOR = "drift-monitor"
PREFIX = "feed-"  # the ids of the traffic this drill's feed sends
SERIES = 'dojo_monitor_messages_total{topic="labels"}'
LISTEN_S = 20.0  # the healthy feed sends a label every 0.5 s; 20 s of silence is a stall
INJECT_DEADLINE_S = 60.0


def labels_read(ctx: DrillContext) -> float | None:
    """Labels the monitor has read since it started, from its /metrics (None: no answer)."""
    import httpx

    url = f"http://{ctx.settings.host}:{ctx.settings.monitor_port}/metrics"
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return None
    found = re.search(rf"^{re.escape(SERIES)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def transactions_written(ctx: DrillContext) -> int:
    """Messages written to `transactions` (end offsets, from the broker)."""
    from dojo.ingestion.kafka_inspect import group_lag

    return sum(row.end for row in group_lag(ctx.settings, ctx.settings.stream_group_id))


def feed_processes(ctx: DrillContext) -> list[int]:
    """Pids of `dojo generate stream --id-prefix feed-` processes of this stack (DOJO_HOME)."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "generate" not in cmdline or "stream" not in cmdline or PREFIX not in cmdline:
            continue
        try:
            home = process.environ().get("DOJO_HOME")
        except psutil.Error:
            continue
        # no DOJO_HOME: the default home, ours too if this process runs with the default
        if home == str(ctx.settings.home) or (home is None and "DOJO_HOME" not in os.environ):
            found.append(process.info["pid"])
    return found


class LabelsStopped(Drill):
    name = "labels-stopped"
    title = "The labelling feed stalls: no label reaches the monitor"
    symptom = (
        "Transactions keep arriving and the model keeps scoring, but the drift monitor's live "
        "PR-AUC has not been updated for a while: `dojo_monitor_labels_joined` stands still, "
        "and `DojoLabelsStopped` fires once it has lasted. No component is down."
    )
    hints = (
        "Compare what arrives on each topic: `dojo topics` (messages written to `transactions` "
        "and `labels`) and the monitor's `dojo_monitor_messages_total` by topic on its "
        "/metrics. Which one stopped moving?",
        "`transactions` grows, `labels` does not: whoever sends the labels has stalled. In the "
        "local stack that is the chargeback side of `dojo generate stream`: look at how it was "
        "started, `pgrep -af 'generate stream'`.",
        "It holds every label for an hour (`--label-delay-s 3600`). Stop it (`kill <PID>`) and "
        "start the feed again with its normal delay of seconds (the runbook has the line); "
        "watch `dojo_monitor_messages_total{topic=\"labels\"}` move.",
    )
    runbook = "labs/drills/labels-stopped.md"
    fix_commands = (
        "pgrep -af 'generate stream'",
        "kill <PID>",
        "nohup dojo generate stream --count 20000 --rate 2 --label-delay-s 5 --id-prefix feed- "
        ">/dev/null 2>&1 &",
    )

    def _pid_file(self, ctx: DrillContext) -> Path:
        return ctx.state_dir / f"{self.name}.pid"

    def inject(self, ctx: DrillContext) -> None:
        ready = pipeline_works(ctx)
        if not ready.ok:
            raise DrillError(f"the stream is not healthy before the drill: {ready.detail}")
        monitor = ctx.health(MONITOR)
        if not monitor.ok:
            raise DrillError(f"the drift monitor is not healthy before the drill: "
                             f"{monitor.detail}")
        from dojo.runtime.launch import venv_executable

        before = transactions_written(ctx)
        feed = start_detached(ctx, self.name, [
            venv_executable("dojo"), "generate", "stream", "--count", "20000", "--rate", "2",
            "--label-delay-s", "3600", "--id-prefix", PREFIX], cwd=ctx.repo_root)

        def flowing() -> Check:
            if feed.poll() is not None:
                raise DrillError(f"the traffic with the stalled feed exited at once; see "
                                 f"{ctx.state_dir}/{self.name}.log")
            now = transactions_written(ctx)
            return Check(now > before + 4, f"{now - before} transactions since the start")

        ctx.wait_for(flowing, deadline_s=INJECT_DEADLINE_S, what="the drill's traffic")

    def check(self, ctx: DrillContext) -> Check:
        """Labels reach the monitor: its labels counter moves within LISTEN_S."""
        first = labels_read(ctx)
        if first is None:
            return Check(False, "the drift monitor's /metrics does not answer")
        sent_before = transactions_written(ctx)
        started = time.monotonic()
        while time.monotonic() - started < LISTEN_S:
            time.sleep(0.5)  # poll interval, bounded by LISTEN_S
            now = labels_read(ctx)
            if now is not None and now > first:
                return Check(True, f"the monitor read {now - first:g} new label(s) in "
                                   f"{time.monotonic() - started:.1f} s ({SERIES} = {now:g})")
        sent = transactions_written(ctx) - sent_before
        return Check(False, f"no label reached the monitor in {LISTEN_S:g} s ({SERIES} stays "
                            f"at {first:g}) while {sent} transactions arrived")

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """The runbook's steps: find this stack's stalled feed, kill it, start a healthy one."""
        find, kill, start = self.fix_commands
        code, output = ctx.shell(find)
        steps = [(find, code, output)]
        ours = set(feed_processes(ctx))
        found = [int(pid) for pid in re.findall(r"^(\d+) .*--label-delay-s 3600", output, re.M)
                 if int(pid) in ours]
        if not found:
            return steps
        command = kill.replace("<PID>", str(found[0]))
        steps.append((command, *ctx.shell(command)))
        steps.append((start, *ctx.shell(start)))
        return steps

    def reset(self, ctx: DrillContext) -> None:
        """Stop the stalled feed and any feed started as the fix, then a healthy stack."""
        stop_recorded_process(self._pid_file(ctx),
                              lambda pid: command_line_has(pid, "--label-delay-s", "3600"))
        for pid in feed_processes(ctx):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        ctx.stack().up()
        ctx.wait_for(lambda: lag_check(ctx.settings), what="the stream processor")

"""Drill: an old deployment of the stream job writes the online store with another transform.

Why this fault: training/serving skew is the ML failure with no error message. The model was
trained on amounts in units; a forgotten replica of the stream job's version 0 still pushes
rows in cents for the active users. Every component is healthy, the server answers, only the
scores of those users are wrong. It is found the way production teams find it: compare the
online rows with features recomputed from the offline store for the same users and events
(`dojo features parity`). The check is exactly that comparison.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dojo.teaching.drills._stream import caught_up, drill_event, pipeline_works, produce
from dojo.teaching.drills.base import (
    Check,
    Drill,
    DrillContext,
    DrillError,
    command_line_has,
    start_detached,
    stop_recorded_process,
)

if TYPE_CHECKING:
    from dojo.features.parity import Parity

MODULE = "dojo.teaching.drills._legacy_stream"
USERS = tuple(f"u-skew-{n:02d}" for n in range(12))


def compare(ctx: DrillContext) -> Parity:
    from dojo.features.parity import online_vs_offline
    from dojo.features.store import open_store, quiet_feast_warnings

    quiet_feast_warnings()
    return online_vs_offline(ctx.settings, open_store(ctx.settings))


def parity(ctx: DrillContext) -> Check:
    result = compare(ctx)
    if result.compared == 0:
        return Check(False, "no recently active user has an online row to compare")
    if result.mismatches:
        first = result.mismatches[0]
        return Check(False, f"{len(result.differing_users)} of {result.compared} users differ; "
                            f"e.g. {first.user_id} {first.feature}: online {first.online:g}, "
                            f"recomputed {first.offline:g}")
    return Check(True, f"online equals offline for all {result.compared} recently active users")


class TrainingServingSkew(Drill):
    name = "training-serving-skew"
    title = "An old stream job writes features with another transform"
    symptom = (
        "Fraud scores of some active customers jumped although nothing was deployed today. "
        "Every component is healthy, the DLQ is quiet, and the online features are fresh."
    )
    hints = (
        "Look at one affected user's online features (`dojo features get <user>`) next to the "
        "same features recomputed from the offline store: `dojo features parity` compares them "
        "for the most recently active users.",
        "The amount features online are 100 times the recomputed ones, for every recent user: "
        "something pushes rows with amounts in cents. The platform's stream processor computes "
        "units. Which other process writes to the online store? `pgrep -af legacy_stream`.",
        "Stop the old job (`kill <PID>`), then rewrite the online store from the offline truth: "
        "`dojo features materialize`. `dojo features parity` is clean afterwards.",
    )
    runbook = "labs/drills/training-serving-skew.md"
    fix_commands = ("pgrep -af legacy_stream", "kill <PID>", "dojo features materialize")

    def _pid_file(self, ctx: DrillContext) -> Path:
        return ctx.state_dir / f"{self.name}.pid"

    def _is_ours(self, pid: int, ctx: DrillContext) -> bool:
        return command_line_has(pid, MODULE, str(ctx.settings.home))

    def inject(self, ctx: DrillContext) -> None:
        ready = pipeline_works(ctx)
        if not ready.ok:
            raise DrillError(f"the stream is not healthy before the drill: {ready.detail}")
        # A few customers active right now, so the skew has users to hit and the check has
        # users to compare (a fresh stack may have no recent activity).
        stamp = time.time_ns()
        produce(ctx.settings, [
            (user, json.dumps(drill_event(user, f"skew-{stamp}-{user}", 20.0 + i)).encode())
            for i, user in enumerate(USERS)])
        applied = caught_up(ctx)
        if not applied.ok:
            raise DrillError(f"the drill's events did not get through: {applied.detail}")
        # Detached: a forgotten deployment outlives whoever started it.
        job = start_detached(ctx, self.name,
                             [sys.executable, "-m", MODULE, "--home", str(ctx.settings.home)])

        def skewed() -> Check:
            if job.poll() is not None:
                raise DrillError(f"the old stream job exited at once; see "
                                 f"{ctx.state_dir}/{self.name}.log")
            result = compare(ctx)
            return Check(bool(result.mismatches),
                         f"{len(result.differing_users)} of {result.compared} users differ")

        ctx.wait_for(skewed, deadline_s=60, what="the skew to reach the online store")

    def check(self, ctx: DrillContext) -> Check:
        return parity(ctx)

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """The runbook's steps: find this stack's old job with pgrep, kill it, materialize."""
        find, kill, materialize = self.fix_commands
        code, output = ctx.shell(find)
        steps = [(find, code, output)]
        mine = re.compile(rf"^(\d+) .*--home {re.escape(str(ctx.settings.home))}\b", re.M)
        found = mine.search(output)
        if found is not None:
            pid = int(found.group(1))
            command = kill.replace("<PID>", str(pid))
            steps.append((command, *ctx.shell(command)))
            # Its last push must be over before the online store is rewritten.
            ctx.wait_for(lambda: Check(not command_line_has(pid, MODULE), f"pid {pid} runs"),
                         deadline_s=15, what="the old stream job to exit")
        steps.append((materialize, *ctx.shell(materialize)))
        return steps

    def reset(self, ctx: DrillContext) -> None:
        stop_recorded_process(self._pid_file(ctx), lambda pid: self._is_ours(pid, ctx))
        ctx.shell("dojo features materialize")
        ctx.stack().up()
        ctx.wait_for(lambda: pipeline_works(ctx), what="the stream pipeline")

"""Drill: one day of the offline store's history is gone. The training run fails at once.

Why this fault: a partition goes missing more often than anyone expects (a retention job with
an off-by-one, a backfill that deleted before it wrote, a bucket lifecycle rule, a stream
processor that was down all day). If training read whatever was there, it would fit on 13 days
instead of 14, skewed towards the remaining weekdays, and nobody would notice. The DAG's first
task, `check_inputs`, refuses a window with a missing day and names it; the job on call is to
backfill exactly that day, not to regenerate (and so change) the whole window. The check runs
that same task on the window a run triggered now would train on.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError

if TYPE_CHECKING:
    from dojo.training.window import TrainingWindow

DAYS_BEFORE_END = 5  # the day that goes missing: inside the window, not at its edges
ROWS_PER_DAY = 300  # history the drill writes when the window has none (small: a fast drill)
SEED = 20  # of that history: any seed, fixed so a rerun writes the same rows


def default_window(ctx: DrillContext) -> TrainingWindow:
    """The window `dojo train` (no dates) would train on now: yesterday's interval (UTC)."""
    from dojo.training.window import resolve_window

    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return resolve_window(end - timedelta(days=1), end, ctx.settings.train_lookback_days)


def inputs_check(ctx: DrillContext, window: TrainingWindow) -> Check:
    """The DAG's `check_inputs` task on the window; any read error counts as a failure."""
    from dojo.training.errors import InputsMissing
    from dojo.training.inputs import check_inputs

    try:
        report = check_inputs(ctx.settings, window)
    except InputsMissing as error:
        return Check(False, f"check_inputs fails: {error}")
    except Exception as error:  # an unreadable file is as bad as a missing one
        return Check(False, f"check_inputs cannot read the window: {type(error).__name__}: "
                            f"{error}")
    days = window.days
    return Check(True, f"check_inputs passes: all {len(days)} days {days[0]} .. {days[-1]} "
                       f"present and readable ({report.rows:,} transactions, fewest on one "
                       f"day: {min(report.rows_per_day.values()):,})")


class MissingOfflinePartition(Drill):
    name = "missing-offline-partition"
    title = "A day of history is missing from the offline store"
    symptom = (
        "The nightly training run failed at its first task, `check_inputs`; no model was "
        "trained. Every component of the stack is healthy and `dojo doctor` is green."
    )
    hints = (
        "Ask the training inputs what is wrong without waiting for Airflow: `dojo train "
        "--check-inputs` runs the DAG's first task here, on the window a run would train on.",
        "One day of the window has no transactions at all: its `event_date=` partition under "
        "the offline store's `transactions/` folder is gone, while the days around it hold "
        "their usual rows. Training on the rest would silently skew the model.",
        "Backfill that one day at the usual volume, with the command the error prints "
        "(`dojo generate history --start-date <DAY> --days 1 --rows <ROWS>`), then run "
        "`dojo train --check-inputs` again and trigger the training.",
    )
    runbook = "labs/drills/missing-offline-partition.md"
    fix_commands = (
        "dojo train --check-inputs",
        "dojo generate history --start-date <DAY> --days 1 --rows <ROWS>",
        "dojo train --check-inputs",
    )

    def _aside(self, ctx: DrillContext) -> Path:
        return ctx.state_dir / self.name

    def inject(self, ctx: DrillContext) -> None:
        from dojo.ingestion.offline_store import partition_dir

        window = default_window(ctx)
        before = inputs_check(ctx, window)
        if not before.ok:
            self._write_history(ctx, window)
            before = inputs_check(ctx, window)
            if not before.ok:
                raise DrillError(f"the training window is not complete before the drill: "
                                 f"{before.detail}")
        day = str(window.interval_end.date() - timedelta(days=DAYS_BEFORE_END))
        source = partition_dir(ctx.settings.offline_dir, day)
        aside = self._aside(ctx)
        if aside.exists():
            raise DrillError(f"{aside} holds a partition from an earlier run of this drill: "
                             f"`dojo drill reset {self.name}` first")
        aside.mkdir(parents=True)
        shutil.move(str(source), str(aside / source.name))  # a deleted partition, kept for reset
        broken = inputs_check(ctx, window)
        if broken.ok:
            raise DrillError(f"moving {source} aside did not break the window: {broken.detail}")

    def _write_history(self, ctx: DrillContext, window: TrainingWindow) -> None:
        """A stack without history for the window gets a small one (the drill's precondition,
        like a learner's `dojo generate history`)."""
        from dojo.ingestion.offline_store import write_transactions
        from dojo.synthetic.generator import generate_history

        days = window.days
        frame = generate_history(rows=ROWS_PER_DAY * len(days), days=len(days), seed=SEED,
                                 start_date=days[0])
        write_transactions(frame, ctx.settings.offline_dir)

    def check(self, ctx: DrillContext) -> Check:
        return inputs_check(ctx, default_window(ctx))

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """The runbook's steps: the preflight names the day and the backfill; run that."""
        first, backfill, again = self.fix_commands
        code, output = ctx.shell(first)
        steps = [(first, code, output)]
        found = re.search(r"--start-date (\d{4}-\d{2}-\d{2}) --days 1 --rows (\d+)",
                          " ".join(output.split()))
        if found is None:
            return steps
        command = backfill.replace("<DAY>", found.group(1)).replace("<ROWS>", found.group(2))
        steps.append((command, *ctx.shell(command)))
        steps.append((again, *ctx.shell(again)))
        return steps

    def reset(self, ctx: DrillContext) -> None:
        """Put the original partition back (replacing a backfill of the same day, if any)."""
        from dojo.ingestion.offline_store import partition_dir

        aside = self._aside(ctx)
        for saved in sorted(aside.glob("event_date=*")) if aside.is_dir() else []:
            day = saved.name.split("=", 1)[1]
            target = partition_dir(ctx.settings.offline_dir, day)
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(saved), str(target))
        shutil.rmtree(aside, ignore_errors=True)

"""Are the inputs of a training window there? Offline-store partitions and labels, per day.

Why before anything else: a missing day (the generator was run for other dates, the stream
processor was down) would otherwise surface as a quietly smaller training set or as a
confusing error deep in the feature join. Checking first turns it into one line naming the
missing days and the command that fills them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dojo.ingestion import offline_store
from dojo.settings import Settings
from dojo.training.errors import InputsMissing
from dojo.training.window import TrainingWindow

# What training reads from the offline store (features come from Feast, keyed on these).
RAW_COLUMNS: list[str] = [
    "transaction_id", "ts", "user_id", "card_id", "merchant_id", "merchant_category", "amount",
    "currency", "country", "device_id", "channel", "is_fraud", "label_ts",
]


@dataclass(frozen=True)
class InputReport:
    rows_per_day: dict[str, int]
    rows: int
    labelled_rows: int

    def to_dict(self) -> dict[str, object]:
        return {"rows_per_day": self.rows_per_day, "rows": self.rows,
                "labelled_rows": self.labelled_rows}


def check_inputs(settings: Settings, window: TrainingWindow) -> InputReport:
    """Every day of the window has transactions, and some labels had arrived by its end."""
    days = [str(day) for day in window.days]
    table = offline_store.transactions_dir(settings.offline_dir)
    frame = offline_store.read_transactions(
        settings.offline_dir, start=days[0], end=days[-1], columns=["ts", "label_ts"]
    )
    counts = frame["ts"].dt.strftime("%Y-%m-%d").value_counts() if len(frame) else pd.Series()
    rows_per_day = {day: int(counts.get(day, 0)) for day in days}
    missing = [day for day, rows in rows_per_day.items() if rows == 0]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise InputsMissing(
            f"no transactions for {shown} in {table} (window {days[0]} .. {days[-1]}): "
            f"write them with `{backfill_command(rows_per_day, missing)}` or check that "
            "`dojo stream` was running"
        )
    end = pd.Timestamp(window.interval_end)
    labelled = int((frame["label_ts"].notna() & (frame["label_ts"] < end)).sum())
    if labelled == 0:
        raise InputsMissing(
            f"none of the {len(frame):,} transactions in the window had a label by "
            f"{window.interval_end:%Y-%m-%d %H:%M}: labels arrive hours to days after a "
            "transaction, so pick a later interval end"
        )
    return InputReport(rows_per_day, len(frame), labelled)


def backfill_command(rows_per_day: dict[str, int], missing: list[str]) -> str:
    """The generator command that fills the first run of missing days at the usual volume.

    Why only those days: regenerating the whole window would replace the days that are fine
    (and every model trained on them would no longer be reproducible); a backfill rewrites
    what is missing and nothing else.
    """
    days = list(rows_per_day)
    first = days.index(missing[0])
    run = 1
    while first + run < len(days) and rows_per_day[days[first + run]] == 0:
        run += 1
    present = sorted(rows for rows in rows_per_day.values() if rows)
    if not present:  # the whole window is empty: write all of it with the defaults
        return f"dojo generate history --start-date {missing[0]} --days {len(days)}"
    per_day = present[len(present) // 2]
    return (f"dojo generate history --start-date {missing[0]} --days {run} "
            f"--rows {per_day * run}")


def load_window(settings: Settings, window: TrainingWindow) -> pd.DataFrame:
    """Raw transactions with event time inside the window (all columns training reads)."""
    days = window.days
    frame = offline_store.read_transactions(
        settings.offline_dir, start=str(days[0]), end=str(days[-1]), columns=RAW_COLUMNS
    )
    start, end = pd.Timestamp(window.window_start), pd.Timestamp(window.interval_end)
    return frame[(frame["ts"] >= start) & (frame["ts"] < end)].reset_index(drop=True)

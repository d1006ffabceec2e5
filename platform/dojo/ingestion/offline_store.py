"""The offline store's transactions table: parquet files partitioned by day, hive style.

Layout: ``<offline_dir>/transactions/event_date=YYYY-MM-DD/<writer>.parquet``. Why hive-style
day partitions: Feast's file source, pyarrow, pandas and DuckDB all read them as one table and
prune by date, and a daily training run (the Airflow DAG's data interval) touches exactly the
partitions of its days.

Why one fixed file name per writer and partition: a rerun of the same generator arguments
replaces ``history.parquet`` in the partitions it covers instead of adding a second copy, so
the write is idempotent, and files of other writers (the stream processor appends its own) are
left alone. Each file is written to a temporary name and renamed into place, so a reader never
sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

TRANSACTIONS_TABLE = "transactions"
PARTITION_COLUMN = "event_date"
HISTORY_WRITER = "history"

# The table's schema, fixed here so files from different writers read as one table (a file
# without the label columns reads them as nulls instead of failing the scan).
OFFLINE_SCHEMA = pa.schema([
    ("transaction_id", pa.string()),
    ("ts", pa.timestamp("ns", tz="UTC")),
    ("user_id", pa.string()),
    ("card_id", pa.string()),
    ("merchant_id", pa.string()),
    ("merchant_category", pa.string()),
    ("amount", pa.float64()),
    ("currency", pa.string()),
    ("country", pa.string()),
    ("device_id", pa.string()),
    ("channel", pa.string()),
    ("is_fraud", pa.bool_()),
    ("fraud_pattern", pa.string()),
    ("label_ts", pa.timestamp("ns", tz="UTC")),
    (PARTITION_COLUMN, pa.string()),
])
FILE_SCHEMA = OFFLINE_SCHEMA.remove(OFFLINE_SCHEMA.get_field_index(PARTITION_COLUMN))


@dataclass(frozen=True)
class WriteResult:
    """What a write did, for the CLI summary and for tests."""

    path: Path
    rows: int
    partitions: tuple[str, ...]
    files: tuple[Path, ...]


def transactions_dir(offline_dir: Path) -> Path:
    return Path(offline_dir) / TRANSACTIONS_TABLE


def partition_dir(offline_dir: Path, day: str) -> Path:
    return transactions_dir(offline_dir) / f"{PARTITION_COLUMN}={day}"


def write_transactions(frame: pd.DataFrame, offline_dir: Path, *, writer: str = HISTORY_WRITER,
                       on_partition: Callable[[str, int], None] | None = None) -> WriteResult:
    """Write ``frame`` (with an ``event_date`` column) one file per day, replacing this
    writer's earlier file for each of those days. ``on_partition(day, rows)`` reports progress.
    """
    missing = [name for name in OFFLINE_SCHEMA.names if name not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks offline-store columns: {', '.join(missing)}")
    root = transactions_dir(offline_dir)
    days = frame[PARTITION_COLUMN].to_numpy()
    # The frame is usually sorted by time; a stable sort keeps each day's row order either way.
    order = pd.Series(days).argsort(kind="stable").to_numpy()
    sorted_days = days[order]
    day_values, first = _run_starts(sorted_days)
    boundaries = [*first, len(order)]
    table = pa.Table.from_pandas(frame.iloc[order][FILE_SCHEMA.names], schema=FILE_SCHEMA,
                                 preserve_index=False)
    files = []
    for i, day in enumerate(day_values):
        lo, hi = boundaries[i], boundaries[i + 1]
        target = partition_dir(offline_dir, day) / f"{writer}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        pq.write_table(table.slice(lo, hi - lo), tmp)
        os.replace(tmp, target)
        files.append(target)
        if on_partition is not None:
            on_partition(day, hi - lo)
    return WriteResult(root, len(frame), tuple(day_values), tuple(files))


def _run_starts(sorted_values: object) -> tuple[list[str], list[int]]:
    """The distinct values of a sorted array and the index where each run starts."""
    series = pd.Series(sorted_values)
    starts = series.ne(series.shift()).to_numpy().nonzero()[0]
    return [str(v) for v in series.iloc[starts]], [int(i) for i in starts]


def remove_writer_files(offline_dir: Path, writer: str = HISTORY_WRITER) -> int:
    """Delete every file this writer left (e.g. before regenerating history for other days);
    returns how many. Partitions left empty are removed too."""
    removed = 0
    pattern = f"{PARTITION_COLUMN}=*/{writer}.parquet"
    for path in sorted(transactions_dir(offline_dir).glob(pattern)):
        path.unlink()
        removed += 1
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return removed


def list_partitions(offline_dir: Path) -> list[str]:
    """The days present in the table, oldest first."""
    root = transactions_dir(offline_dir)
    return sorted(p.name.split("=", 1)[1] for p in root.glob(f"{PARTITION_COLUMN}=*")
                  if p.is_dir() and any(p.glob("*.parquet")))


def read_transactions(offline_dir: Path, *, start: date | str | None = None,
                      end: date | str | None = None,
                      columns: Sequence[str] | None = None) -> pd.DataFrame:
    """All rows of the table (optionally days in [start, end], inclusive), sorted by
    (ts, transaction_id) with a fresh index, so a write followed by a read gives back the
    same frame. Only the partitions inside the range are opened. ``columns`` may repeat a name
    (callers add their own to a shared list); each is read once."""
    if columns is not None:
        columns = list(dict.fromkeys(columns))
    root = transactions_dir(offline_dir)
    if not root.is_dir():
        return OFFLINE_SCHEMA.empty_table().to_pandas() if columns is None else (
            OFFLINE_SCHEMA.empty_table().select(columns).to_pandas())
    condition = None
    if start is not None:
        condition = ds.field(PARTITION_COLUMN) >= str(start)
    if end is not None:
        upper = ds.field(PARTITION_COLUMN) <= str(end)
        condition = upper if condition is None else condition & upper
    for attempt in range(3):
        dataset = ds.dataset(
            root, schema=OFFLINE_SCHEMA, format="parquet",
            partitioning=ds.partitioning(pa.schema([(PARTITION_COLUMN, pa.string())]),
                                         flavor="hive"),
            exclude_invalid_files=False, ignore_prefixes=[".", "_"],
        )
        try:
            table = dataset.to_table(columns=columns, filter=condition)
            break
        except FileNotFoundError:
            # A compaction deleted a file between the listing and the read; its rows are in
            # the merged file, which was in place first (`dojo.ingestion.compaction`).
            if attempt == 2:
                raise
    keys = [(k, "ascending") for k in ("ts", "transaction_id") if k in table.column_names]
    if keys:
        table = table.sort_by(keys)  # arrow's sort: several times faster than pandas' here
    return table.to_pandas()


def newest_event(offline_dir: Path) -> pd.Timestamp | None:
    """The newest ``ts`` in the table, reading only the newest partition's ``ts`` column
    (partitions are the UTC dates of ``ts``, so the newest event is in the newest one)."""
    days = list_partitions(offline_dir)
    if not days:
        return None
    ts = read_transactions(offline_dir, start=days[-1], end=days[-1], columns=["ts"])["ts"]
    return None if ts.empty else ts.max()

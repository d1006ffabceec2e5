"""Merge the stream processor's per-batch files of one day into one file.

Why: the processor writes a file per batch and day (`raw_sink`), so a day of live traffic is
thousands of small files, and every reader (the batch build, a state rebuild) pays per file.

Why this keeps the delivery guarantees:

- the merged file drops duplicate transaction_ids (first in (ts, transaction_id) order, as every
  reader does) and is named like a batch of its ids (`raw_sink.batch_writer_name`), so compacting
  a compacted day changes nothing, and a crash after the merged file is written but before the
  inputs are deleted leaves duplicates that readers drop and the next run removes;
- the merged file is renamed into place before any input is deleted, so a reader sees the old
  files or the new one (and `read_transactions` lists again if a file vanished under it);
- only files that were read are deleted: a batch the processor writes into the day meanwhile
  (a late event of a quiet user) stays, and the next compaction merges it;
- the generator's ``history.parquet`` is left alone: `dojo generate history` replaces it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dojo.ingestion.offline_store import (
    FILE_SCHEMA,
    PARTITION_COLUMN,
    partition_dir,
    write_transactions,
)
from dojo.ingestion.raw_sink import WRITER_PREFIX, batch_writer_name


@dataclass(frozen=True)
class Compacted:
    """One day's compaction: the files merged, the rows in and out, the merged file."""

    day: str
    inputs: tuple[str, ...]
    rows_in: int
    rows_out: int
    output: str


def stream_files(offline_dir: Path, day: str) -> list[Path]:
    return sorted(partition_dir(offline_dir, day).glob(f"{WRITER_PREFIX}*.parquet"))


def compact_day(offline_dir: Path, day: str) -> Compacted | None:
    """Merge the day's stream files into one; None when there is at most one."""
    inputs = stream_files(offline_dir, day)
    if len(inputs) < 2:
        return None
    table = pa.concat_tables(pq.read_table(path, schema=FILE_SCHEMA) for path in inputs)
    frame = table.to_pandas().sort_values(["ts", "transaction_id"], kind="stable")
    merged = frame.drop_duplicates("transaction_id", keep="first").reset_index(drop=True)
    merged[PARTITION_COLUMN] = day
    writer = batch_writer_name(merged["transaction_id"].tolist())
    written = write_transactions(merged, offline_dir, writer=writer)
    output = written.files[0].name
    for path in inputs:
        if path.name != output:
            path.unlink(missing_ok=True)
    return Compacted(day, tuple(path.name for path in inputs), len(frame), len(merged), output)

"""Read raw transactions from the offline store; write feature tables atomically.

Why read through one function: the generator writes history and the stream processor appends
live batches to the same hive-partitioned folder (`event_date=YYYY-MM-DD`, see
`dojo.ingestion.offline_store`), and every feature computation reads the columns it needs
from there the same way.

Why atomic writes: Feast and the stream processor may read a table while `dojo features
materialize` rewrites it; writing a hidden temp file and renaming it means a reader sees the
old table or the new one, never half of one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dojo.features.spec import EVENT_COLUMNS
from dojo.ingestion import offline_store
from dojo.settings import Settings


def read_transactions(
    settings: Settings,
    columns: Sequence[str] = EVENT_COLUMNS,
    since: date | None = None,
) -> pd.DataFrame:
    """Raw transactions (duplicates included) with the given columns; empty if none exist.

    Delegates to the offline store's reader (one schema for history and stream files);
    ``since`` prunes whole `event_date` partitions before any file is opened.
    """
    return offline_store.read_transactions(
        settings.offline_dir, start=since, columns=list(dict.fromkeys(columns))
    )


def write_table_atomic(frame: pd.DataFrame, path: Path, schema: pa.Schema | None = None) -> Path:
    """Write one parquet file so readers see the old file or the new one, nothing between.

    The temp name starts with a dot, which dataset scans skip, so a crash mid-write leaves
    nothing a reader would pick up.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path

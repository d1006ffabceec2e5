"""Write feature tables atomically (raw transactions are read with
`dojo.ingestion.offline_store.read_transactions`, the one reader of the offline store).

Why atomic writes: Feast and the stream processor may read a table while `dojo features
materialize` rewrites it; writing a hidden temp file and renaming it means a reader sees the
old table or the new one, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


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

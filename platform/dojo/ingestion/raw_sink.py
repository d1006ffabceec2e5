"""Append validated live events to the offline store, one file per batch and event date.

Why a file per batch: parquet files are immutable, so an append is a new file in the
`event_date=YYYY-MM-DD` partition the generator's history uses (written through
`dojo.ingestion.offline_store`, the table's one writer). Why the file name is a digest of the
batch's transaction ids: if the processor dies after writing but before committing, the replay
of the same batch rewrites the same file instead of adding a copy. A replay cut at different
boundaries can still duplicate rows; every feature reader drops duplicate transaction_ids
(`dojo.features.windows.normalise_events`), so counts stay right either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dojo.contracts import TRANSACTION_FIELDS, Transaction
from dojo.ingestion import offline_store
from dojo.settings import Settings

WRITER_PREFIX = "stream-"


def batch_writer_name(transaction_ids: Sequence[str]) -> str:
    digest = hashlib.sha1("\n".join(sorted(transaction_ids)).encode()).hexdigest()[:20]
    return f"{WRITER_PREFIX}{digest}"


def append_transactions(settings: Settings, events: Sequence[Transaction]) -> list[Path]:
    """Write the events under their event dates; returns the files written (none if empty).

    Live events carry no label yet: `is_fraud`, `fraud_pattern` and `label_ts` are null (the
    label arrives later on the `labels` topic).
    """
    if not events:
        return []
    frame = pd.DataFrame([event.model_dump() for event in events], columns=TRANSACTION_FIELDS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
    frame["amount"] = frame["amount"].astype("float64")
    frame["is_fraud"] = pd.Series([None] * len(frame), dtype="object")
    frame["fraud_pattern"] = None
    frame["label_ts"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame[offline_store.PARTITION_COLUMN] = frame["ts"].dt.strftime("%Y-%m-%d")
    writer = batch_writer_name(frame["transaction_id"].tolist())
    result = offline_store.write_transactions(frame, settings.offline_dir, writer=writer)
    return list(result.files)

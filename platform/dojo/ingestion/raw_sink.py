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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from dojo.contracts import TRANSACTION_FIELDS, Transaction
from dojo.ingestion import offline_store
from dojo.settings import Settings

WRITER_PREFIX = "stream-"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _epoch_ns(event: Transaction) -> int:
    """The event time in UTC nanoseconds, by integer arithmetic on the aware datetime.

    Why not `pd.to_datetime` on the datetimes and `strftime` for the day: at a few thousand
    events per batch, pandas' per-element conversion and formatting were most of the append's
    time. Integer nanoseconds (datetime is exact to the microsecond) give the same timestamps,
    and numpy's day unit gives the same UTC `event_date`.
    """
    return (event.ts - EPOCH) // MICROSECOND * 1000


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
    frame = pd.DataFrame({name: [getattr(event, name) for event in events]
                          for name in TRANSACTION_FIELDS})
    frame["ts"] = pd.to_datetime(np.fromiter(map(_epoch_ns, events), np.int64, len(events)),
                                 unit="ns", utc=True)
    frame["amount"] = frame["amount"].astype("float64")
    frame["is_fraud"] = pd.Series([None] * len(frame), dtype="object")
    frame["fraud_pattern"] = None
    frame["label_ts"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame[offline_store.PARTITION_COLUMN] = (
        frame["ts"].to_numpy("datetime64[ns]").astype("datetime64[D]").astype(str)
    )
    writer = batch_writer_name(frame["transaction_id"].tolist())
    result = offline_store.write_transactions(frame, settings.offline_dir, writer=writer)
    return list(result.files)

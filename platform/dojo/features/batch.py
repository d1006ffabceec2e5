"""The batch path: rebuild the feature tables from raw events, then materialize them online.

Why rebuild from raw events every time: the tables are a pure function of the offline store
(history from the generator plus what the stream processor appended), computed with the same
transform the stream runs. Rebuilding is idempotent, picks up late data, and is the "batch
layer" that corrects the online store if a stream run ever went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import structlog
from feast import FeatureStore

from dojo.features import spec
from dojo.features.merchant import LABEL_COLUMNS, compute_merchant_features
from dojo.features.offline_io import write_table_atomic
from dojo.features.windows import compute_user_features, with_created
from dojo.ingestion.offline_store import read_transactions
from dojo.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BuildReport:
    raw_events: int
    user_rows: int
    merchant_rows: int
    newest_event: pd.Timestamp | None
    oldest_event: pd.Timestamp | None


def build_feature_tables(settings: Settings, as_of: datetime | None = None) -> BuildReport:
    """Write `user_txn_features.parquet` and `merchant_label_features.parquet` from raw events.

    ``as_of`` (default now) bounds the merchant table to labels that had arrived by then;
    user rows are stamped with their event time and need no bound.
    """
    as_of_ts = pd.Timestamp(as_of or datetime.now(UTC))
    as_of_ts = as_of_ts.tz_localize("UTC") if as_of_ts.tzinfo is None else as_of_ts
    raw = read_transactions(settings.offline_dir, columns=[*spec.EVENT_COLUMNS, *LABEL_COLUMNS])
    created = pd.Timestamp(datetime.now(UTC))
    users = with_created(compute_user_features(raw), created)
    merchants = compute_merchant_features(raw, as_of_ts)
    write_table_atomic(users, spec.user_features_path(settings))
    write_table_atomic(merchants, spec.merchant_features_path(settings))
    newest = users[spec.TIMESTAMP_COLUMN].max() if len(users) else None
    oldest = users[spec.TIMESTAMP_COLUMN].min() if len(users) else None
    report = BuildReport(len(raw), len(users), len(merchants), newest, oldest)
    log.info("features.built", raw_events=report.raw_events, user_rows=report.user_rows,
             merchant_rows=report.merchant_rows, newest_event=str(newest))
    return report


def materialize(
    store: FeatureStore,
    start: datetime | None = None,
    end: datetime | None = None,
    incremental: bool = False,
) -> tuple[datetime, datetime]:
    """Load the newest row per entity in [start, end] into the online store.

    Default window: from the oldest row in either table to now, so a history generated for
    dates long past still reaches the online store (Feast's incremental default would start
    at now - TTL and skip it). ``incremental`` continues from the previous run instead.

    Note: the SQLite online store overwrites without comparing timestamps, so materializing
    while `dojo stream` runs can briefly put back an older row for a user until that user's
    next event; Redis compares timestamps and does not have this race.
    """
    end = end or datetime.now(UTC)
    if incremental:
        store.materialize_incremental(end_date=end)
        return (start or end, end)
    if start is None:
        start = _oldest_row(store) or end - timedelta(days=2)
    store.materialize(start_date=start, end_date=end)
    return start, end


def _oldest_row(store: FeatureStore) -> datetime | None:
    oldest: list[pd.Timestamp] = []
    for view in [*store.list_feature_views(), *store.list_stream_feature_views()]:
        source = view.batch_source
        path = getattr(source, "path", None)
        if not path:
            continue
        try:
            frame = pd.read_parquet(path, columns=[spec.TIMESTAMP_COLUMN])
        except FileNotFoundError:
            continue
        if len(frame):
            oldest.append(pd.Timestamp(frame[spec.TIMESTAMP_COLUMN].min()))
    if not oldest:
        return None
    return (min(oldest) - pd.Timedelta(seconds=1)).to_pydatetime()

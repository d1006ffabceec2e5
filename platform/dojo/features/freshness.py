"""How old are the features a model would be served right now?

Why look inside the online store: Feast does not apply TTLs on online reads, so a stopped
stream processor or a materialization that stopped running shows up nowhere except in the
event timestamps of the stored rows. This reads them directly (SQLite) and compares them with
the batch tables and the last materialization, which is what the "stale online features"
drill asks a learner to diagnose.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from feast import FeatureStore

from dojo.settings import Settings


@dataclass(frozen=True)
class ViewFreshness:
    view: str
    online_entities: int | None
    newest_online: pd.Timestamp | None
    newest_offline: pd.Timestamp | None
    last_materialized_to: datetime | None
    note: str = ""

    def age_s(self, now: datetime | None = None) -> float | None:
        """Seconds between now and the newest online row (None when unknown)."""
        if self.newest_online is None:
            return None
        now = now or datetime.now(UTC)
        return (pd.Timestamp(now) - self.newest_online).total_seconds()


def view_freshness(settings: Settings, store: FeatureStore) -> list[ViewFreshness]:
    """One entry per stored feature view (batch and stream)."""
    views = [*store.list_feature_views(), *store.list_stream_feature_views()]
    result = []
    for view in sorted(views, key=lambda v: v.name):
        entities, newest, note = None, None, ""
        if settings.online_store == "sqlite":
            entities, newest = _sqlite_stats(store, view.name)
        else:
            note = "online age not inspected for redis; use the stream freshness metric"
        intervals = view.materialization_intervals
        result.append(ViewFreshness(
            view=view.name,
            online_entities=entities,
            newest_online=newest,
            newest_offline=_newest_offline(getattr(view.batch_source, "path", None)),
            last_materialized_to=max((end for _, end in intervals), default=None),
            note=note,
        ))
    return result


def _sqlite_stats(store: FeatureStore, view_name: str) -> tuple[int | None, pd.Timestamp | None]:
    path = store.config.online_store.path
    table = f"{store.config.project}_{view_name}"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            count, newest = conn.execute(
                f'SELECT COUNT(DISTINCT entity_key), MAX(event_ts) FROM "{table}"'
            ).fetchone()
    except sqlite3.Error:
        return None, None
    return int(count), _as_utc(newest)


def _as_utc(value: object) -> pd.Timestamp | None:
    """Feast's SQLite store keeps event_ts as epoch seconds (or, in older files, as text)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return pd.Timestamp(value, unit="s", tz="UTC")
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _newest_offline(path: str | None) -> pd.Timestamp | None:
    if not path:
        return None
    try:
        frame = pd.read_parquet(path, columns=["event_timestamp"])
    except (FileNotFoundError, OSError):
        return None
    if frame.empty:
        return None
    return pd.Timestamp(frame["event_timestamp"].max())

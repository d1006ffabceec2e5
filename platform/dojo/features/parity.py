"""Online/offline parity: do the online rows equal the features recomputed from raw events?

Why a check of its own: training reads features computed from the offline store, serving reads
the online store. Both are written by one transform (`windows.user_feature_rows`), so for the
same user at the same event they must be equal. When they are not, something wrote the online
store with a different transform (an old deployment, a hot-fix on one side): training/serving
skew, the failure that lowers a model's quality without any error. Comparing a sample of
recently active users catches it; `dojo features parity` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from feast import FeatureStore

from dojo.features.spec import (
    EVENT_COLUMNS,
    TIMESTAMP_COLUMN,
    USER_ENTITY_KEY,
    USER_FEATURES,
    user_feature_refs,
)
from dojo.features.windows import compute_user_features
from dojo.ingestion.offline_store import read_transactions
from dojo.settings import Settings


@dataclass(frozen=True)
class Mismatch:
    user_id: str
    feature: str
    online: float
    offline: float


@dataclass(frozen=True)
class Parity:
    compared: int  # users whose online row is at the same event as the offline recomputation
    skipped: int  # users whose online row is missing or at another event (in flight)
    mismatches: tuple[Mismatch, ...]

    @property
    def differing_users(self) -> list[str]:
        return sorted({m.user_id for m in self.mismatches})

    @property
    def ok(self) -> bool:
        return self.compared > 0 and not self.mismatches


def recent_users(events: pd.DataFrame, limit: int) -> list[str]:
    """The users of the newest events, newest first (where skew would hurt right now)."""
    newest = events.sort_values("ts").drop_duplicates(USER_ENTITY_KEY, keep="last")
    return newest[USER_ENTITY_KEY].iloc[::-1].head(limit).tolist()


def online_vs_offline(settings: Settings, store: FeatureStore, *, sample: int = 200,
                      rel_tol: float = 1e-9) -> Parity:
    """Compare the online rows of the `sample` most recently active users with a recomputation."""
    events = read_transactions(settings.offline_dir, columns=EVENT_COLUMNS)
    if events.empty:
        return Parity(compared=0, skipped=0, mismatches=())
    users = recent_users(events, sample)
    batch = compute_user_features(events[events[USER_ENTITY_KEY].isin(users)])
    batch = batch.groupby(USER_ENTITY_KEY).tail(1).set_index(USER_ENTITY_KEY)
    online = store.get_online_features(
        features=user_feature_refs(), entity_rows=[{USER_ENTITY_KEY: u} for u in users],
    ).to_dict(include_event_timestamps=True)
    mismatches: list[Mismatch] = []
    compared = skipped = 0
    for i, user in enumerate(online[USER_ENTITY_KEY]):
        # Feast returns each value's event time in whole epoch seconds (0 when it has none).
        stamp = online[f"{USER_FEATURES[0]}__ts"][i]
        if not stamp or user not in batch.index or \
                int(stamp) != int(batch.at[user, TIMESTAMP_COLUMN].timestamp()):
            skipped += 1
            continue
        compared += 1
        for name in USER_FEATURES:
            served, recomputed = online[name][i], batch.at[user, name]
            if served is None or not math.isclose(float(served), float(recomputed),
                                                  rel_tol=rel_tol, abs_tol=1e-9):
                mismatches.append(Mismatch(user, name, served, float(recomputed)))
    return Parity(compared=compared, skipped=skipped, mismatches=tuple(mismatches))

"""Point-in-time training sets from Feast, one output row per input row, guaranteed.

Why a wrapper around `get_historical_features`: Feast 0.67's file (Dask) offline store has two
ways of losing entity rows silently (checked in feast/infra/offline_stores/dask.py):

* rows sharing (join keys, timestamp) are collapsed into one, dropping the others' columns
  (labels, transaction ids) — feast-dev/feast#6787;
* a row whose only candidate feature rows lie outside [ts - TTL, ts] is dropped instead of
  being returned with nulls (`_filter_ttl` runs before the de-duplication), and with it the
  values of every other view joined in the same call.

A training set that silently loses rows is biased (e.g. every transaction at a merchant with
no label yet disappears). This wrapper asks Feast one feature view at a time, in rounds whose
(keys, timestamp) are unique, then left-joins the answers back onto the request by row number,
so a lost row comes back with null features for that view only instead of vanishing.
"""

from __future__ import annotations

import pandas as pd
from feast import FeatureService, FeatureStore

from dojo.features.spec import TIMESTAMP_COLUMN

ROW = "__dojo_row"


def entity_frame(transactions: pd.DataFrame) -> pd.DataFrame:
    """Transactions -> a Feast entity frame: keys, request data (amount), event_timestamp.

    The timestamp is the transaction's own: the user features at that instant include the
    transaction itself, exactly what the stream processor had pushed when it processed it.
    """
    frame = transactions.rename(columns={"ts": TIMESTAMP_COLUMN}).copy()
    frame[TIMESTAMP_COLUMN] = pd.to_datetime(frame[TIMESTAMP_COLUMN], utc=True)
    return frame


def feature_refs(features: FeatureService | list[str]) -> list[str]:
    """`view:feature` references of a feature service (or the list itself)."""
    if not isinstance(features, FeatureService):
        return list(features)
    return [f"{p.name_to_use()}:{field.name}"
            for p in features.feature_view_projections for field in p.features]


def join_keys(store: FeatureStore, view_name: str) -> list[str]:
    """Entity join keys of a (stream) feature view, or of an on-demand view's sources."""
    for getter in (store.get_feature_view, store.get_stream_feature_view):
        try:
            return [column.name for column in getter(view_name).entity_columns]
        except Exception:  # not that kind of view
            continue
    odfv = store.get_on_demand_feature_view(view_name)
    keys: list[str] = []
    for source in odfv.source_feature_view_projections:
        keys += [k for k in join_keys(store, source) if k not in keys]
    return keys


# Feast's file offline store joins every entity row with every feature row of its key before
# it filters by time, so memory grows with (entity rows x feature rows per key). Each row's join
# depends on that row alone, so asking in chunks gives the same answer with a lower peak.
# Measured with 1M rows of history (a ~670k-row training window): one call was killed at 22 GB
# RSS, chunks of 100k at 19 GB: chunking alone does not make that size fit (see the training
# benchmark, which records it).
CHUNK_ROWS = 100_000


def _chunks(frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [frame.iloc[start:start + CHUNK_ROWS] for start in range(0, len(frame), CHUNK_ROWS)]


def historical_features(
    store: FeatureStore,
    entity_df: pd.DataFrame,
    features: FeatureService | list[str],
) -> pd.DataFrame:
    """`entity_df` with the features added; same rows, same order, nulls where unknown.

    One Feast call per feature view (so a row dropped by one view does not lose the others'
    values), each in rounds with unique (keys, timestamp), merged back by row number.
    """
    request = entity_df.reset_index(drop=True).copy()
    request[ROW] = range(len(request))
    by_view: dict[str, list[str]] = {}
    for ref in feature_refs(features):
        by_view.setdefault(ref.split(":", 1)[0], []).append(ref)
    result = request
    for view, refs in by_view.items():
        # Feast collapses rows sharing this view's join keys and timestamp: ask in rounds.
        keys = [k for k in join_keys(store, view) if k in request.columns]
        rank = request.groupby([*keys, TIMESTAMP_COLUMN], sort=False).cumcount()
        answers = [
            store.get_historical_features(entity_df=chunk, features=refs).to_df()
            for round_no in sorted(rank.unique())
            for chunk in _chunks(request[rank == round_no])
        ]
        answer = pd.concat(answers, ignore_index=True)
        wanted = [ref.split(":", 1)[1] for ref in refs]
        added = [c for c in wanted if c in answer.columns and c not in result.columns]
        result = result.merge(answer[[ROW, *added]], on=ROW, how="left", validate="one_to_one")
    return result.sort_values(ROW).drop(columns=ROW).reset_index(drop=True)

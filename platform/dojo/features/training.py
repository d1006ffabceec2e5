"""Point-in-time training sets from Feast, one output row per input row, checked.

Why a wrapper around `get_historical_features`: a training set that silently loses or repeats
rows is biased (e.g. every transaction at a merchant with no label yet disappears), and which
rows survive depends on the offline store. Feast 0.67's `file` (Dask) store, which this repo
used first, lost rows two ways (checked in feast/infra/offline_stores/dask.py): rows sharing
(join keys, timestamp) were collapsed into one (feast-dev/feast#6787), and a row with no
feature row inside [ts - TTL, ts] was dropped instead of being returned with nulls. The
`duckdb` store the repo uses now returns every row, with nulls where a view knows nothing
(tests/integration/test_point_in_time_join.py checks both cases). This wrapper still numbers
the rows and merges Feast's answer back by number, so any store that drops, repeats or
reorders rows is caught here with a clear error instead of training on a biased set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from feast import FeatureService, FeatureStore

from dojo.features import asof, spec
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


# Feast's point-in-time join pairs each request row with every feature row of its key inside the
# TTL before it keeps the newest one, so memory grows with (request rows x feature rows per key).
# Views listed in AS_OF_VIEWS skip those pairs (`dojo.features.asof`); for the rest (the user
# view and the on-demand view built on it) each row's answer depends on that row alone, so
# asking in chunks gives the same answer with a lower peak. Measured with 1M rows of history
# (571k request rows, DuckDB store, 2 cores) while the merchant view still went through Feast:
# chunks of 25k peaked at 3 GB, 100k at 8 GB, 300k at 19 GB, each in 80-90 s.
CHUNK_ROWS = 25_000
# The merchant view is cumulative (one row per label arrival, 30-day TTL): Feast's join paired
# each request row with its merchant's whole labelled history (61 of 78 s at 1M rows). An
# as-of merge gives the same values (tests/integration/test_point_in_time_join.py).
AS_OF_VIEWS: frozenset[str] = frozenset({spec.MERCHANT_FEATURE_VIEW})


def _chunks(frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [frame.iloc[start:start + CHUNK_ROWS] for start in range(0, len(frame), CHUNK_ROWS)]


class LostRows(RuntimeError):
    """Feast's answer does not hold each request row exactly once."""


def historical_features(
    store: FeatureStore,
    entity_df: pd.DataFrame,
    features: FeatureService | list[str],
    as_of_views: frozenset[str] = AS_OF_VIEWS,
) -> pd.DataFrame:
    """`entity_df` with the features added; same rows, same order, nulls where unknown.

    Features of a view in ``as_of_views`` (when it reads a local parquet file) come from
    `dojo.features.asof`; the rest from Feast's `get_historical_features`.

    Raises `LostRows` when the offline store returns a row count or row set that differs from
    the request (see the module docstring).
    """
    request = entity_df.reset_index(drop=True).copy()
    request[ROW] = range(len(request))
    refs = feature_refs(features)
    by_view: dict[str, list[str]] = {}
    for ref in refs:
        view, name = ref.split(":", 1)
        by_view.setdefault(view, []).append(name)
    candidates = {view: store.get_feature_view(view) for view in by_view if view in as_of_views}
    merged = {name: view for name, view in candidates.items() if asof.supports(view)}
    feast_refs = [ref for ref in refs if ref.split(":", 1)[0] not in merged]
    result = request
    if feast_refs:
        result = _feast_join(store, request, feast_refs)
    for name, view in merged.items():
        columns = [c for c in dict.fromkeys(by_view[name]) if c not in result.columns]
        result[columns] = asof.as_of_join(result, view, columns, TIMESTAMP_COLUMN)
    return result.drop(columns=ROW)


def _feast_join(store: FeatureStore, request: pd.DataFrame, refs: list[str]) -> pd.DataFrame:
    answer = pd.concat(
        [store.get_historical_features(entity_df=chunk, features=refs).to_df()
         for chunk in _chunks(request)],
        ignore_index=True,
    )
    rows = np.sort(answer[ROW].to_numpy())
    if not np.array_equal(rows, np.arange(len(request))):
        raise LostRows(
            f"the offline store ({store.config.offline_store.type}) answered {len(answer)} rows "
            f"({len(np.unique(rows))} distinct) for {len(request)} requested: a point-in-time "
            "join must return each request row once"
        )
    added = [ref.split(":", 1)[1] for ref in refs]
    added = [c for c in dict.fromkeys(added) if c in answer.columns and c not in request.columns]
    result = request.merge(answer[[ROW, *added]], on=ROW, how="left", validate="one_to_one")
    return result.sort_values(ROW).reset_index(drop=True)

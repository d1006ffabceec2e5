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

Why most of the join does not run in Feast's offline store: its SQL pairs every request row
with every feature row of its key, which did not scale (see `AS_OF_VIEWS`). The views listed
there are joined by `dojo.features.asof` with Feast's rules, from Feast's definitions; the
on-demand ratio is computed by Feast's own transformation of the view (`transform_arrow`,
what `get_historical_features` runs). Feast still defines every feature.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureService, FeatureStore, OnDemandFeatureView

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
# Each row's answer depends on that row alone, so asking in chunks gives the same answer with a
# lower peak. Measured with 1M rows of history (571k request rows, DuckDB store, 2 cores) while
# every view went through Feast: chunks of 25k peaked at 3 GB, 100k at 8 GB, 300k at 19 GB,
# each in 80-90 s.
CHUNK_ROWS = 25_000
# Views joined by `dojo.features.asof` instead: both tables hold a key's state as of each row's
# time, so the newest row at or before the request (within the TTL) is found by a sorted merge,
# with no pairs. The merchant view (one row per label arrival, 30-day TTL) alone took 61 of the
# 78 s above. Same values as Feast's join (tests/integration/test_point_in_time_join.py); pass
# `as_of_views=frozenset()` to send every view through Feast's offline store.
AS_OF_VIEWS: frozenset[str] = frozenset({spec.MERCHANT_FEATURE_VIEW, spec.USER_FEATURE_VIEW})


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
    `dojo.features.asof`, and an on-demand view whose sources all do is computed by Feast's
    own transformation on those rows; the rest come from Feast's `get_historical_features`.

    Raises `LostRows` when the offline store returns a row count or row set that differs from
    the request (see the module docstring).
    """
    request = entity_df.reset_index(drop=True).copy()
    request[ROW] = range(len(request))
    refs = feature_refs(features)
    views = _views(store)
    wanted: dict[str, list[str]] = {}
    for ref in refs:
        view, name = ref.split(":", 1)
        wanted.setdefault(view, []).append(name)
    local = {name for name in wanted if name in as_of_views and asof.supports(views.get(name))}
    derived = {name for name in wanted if isinstance(views.get(name), OnDemandFeatureView)
               and set(views[name].source_feature_view_projections) <= local}
    feast_refs = [ref for ref in refs if ref.split(":", 1)[0] not in local | derived]
    result = _feast_join(store, request, feast_refs) if feast_refs else request
    inputs = {name: [f.name for f in projection.features] for odfv in derived
              for name, projection in views[odfv].source_feature_view_projections.items()}
    for name in sorted(local):
        columns = [c for c in dict.fromkeys([*wanted[name], *inputs.get(name, [])])
                   if c not in result.columns]
        result[columns] = asof.as_of_join(result, views[name], columns, TIMESTAMP_COLUMN)
    for name in sorted(derived):
        table = pa.Table.from_pandas(result.drop(columns=[TIMESTAMP_COLUMN]),
                                     preserve_index=False)
        computed = views[name].transform_arrow(table, full_feature_names=False)
        for column in dict.fromkeys(wanted[name]):
            result[column] = computed[column].to_numpy(zero_copy_only=False)
    requested = {name for names in wanted.values() for name in names}
    extra = [c for c in result.columns if c not in request.columns and c not in requested]
    return result.drop(columns=[ROW, *extra])


def _views(store: FeatureStore) -> dict[str, object]:
    """Every view of the registry by name (Feast lists each kind on its own)."""
    views: dict[str, object] = {view.name: view for view in store.list_feature_views()}
    views.update({view.name: view for view in store.list_stream_feature_views()})
    views.update({view.name: view for view in store.list_on_demand_feature_views()})
    return views


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

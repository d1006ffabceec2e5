"""Feast's point-in-time join through `historical_features`, checked against an independent
`merge_asof` over the same feature tables.

Why these rows: the two ways an offline store has lost training rows before (see
`dojo.features.training`): two transactions sharing (user, merchant, timestamp), and a row
whose user has no feature row inside the view's TTL while its merchant has one. Both must come
back, with the right labels and nulls only where a view knows nothing. Feast's `file` store
still loses such a row; the wrapper must refuse that answer instead of returning it.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore

from dojo.features import spec
from dojo.features.batch import build_feature_tables
from dojo.features.merchant import compute_merchant_features
from dojo.features.offline_io import write_table_atomic
from dojo.features.store import apply_definitions, repo_config
from dojo.features.training import LostRows, entity_frame, feature_refs, historical_features
from dojo.ingestion.offline_store import write_transactions
from dojo.settings import Settings, load_settings
from dojo.synthetic.generator import generate_history

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

START = date(2025, 1, 1)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, pd.DataFrame]:
    settings = load_settings(home=tmp_path_factory.mktemp("pit"))
    history = generate_history(rows=4000, days=6, seed=11, start_date=START, users=300,
                               merchants=80)
    write_transactions(history, settings.offline_dir)
    build_feature_tables(settings)
    return settings, history


def request_rows(history: pd.DataFrame) -> pd.DataFrame:
    """A sample of real transactions plus the three awkward rows, in a scrambled order."""
    sample = history.sample(400, random_state=5)
    twin = sample.iloc[[0]].assign(transaction_id="twin-of-first",
                                   is_fraud=not bool(sample.iloc[0]["is_fraud"]))
    last = history.sort_values("ts").groupby("user_id").tail(1).iloc[0]
    stale_user = pd.DataFrame([{**last.to_dict(), "transaction_id": "stale-user",
                                "ts": history["ts"].max() + pd.Timedelta(days=3)}])
    before_all = pd.DataFrame([{**last.to_dict(), "transaction_id": "before-history",
                                "ts": history["ts"].min() - pd.Timedelta(days=1)}])
    rows = pd.concat([sample, twin, stale_user, before_all], ignore_index=True)
    rows = rows.sample(frac=1.0, random_state=9)
    return entity_frame(rows[["transaction_id", "ts", "user_id", "merchant_id", "amount",
                              "is_fraud"]])


def as_of(request: pd.DataFrame, table: pd.DataFrame, key: str, ttl: pd.Timedelta,
          columns: list[str]) -> pd.DataFrame:
    """Each request row's newest feature row at or before its time, within the TTL."""
    order = [spec.TIMESTAMP_COLUMN, *([spec.CREATED_COLUMN] if spec.CREATED_COLUMN in table
                                      else [])]
    right = table.sort_values(order, kind="stable")[[key, spec.TIMESTAMP_COLUMN, *columns]]
    left = request[["transaction_id", key, spec.TIMESTAMP_COLUMN]].sort_values(
        spec.TIMESTAMP_COLUMN, kind="stable")
    joined = pd.merge_asof(left, right, on=spec.TIMESTAMP_COLUMN, by=key,
                           direction="backward", tolerance=ttl)
    return joined.set_index("transaction_id").loc[request["transaction_id"], columns]


def test_every_row_comes_back_with_the_features_of_its_own_instant(home) -> None:
    settings, history = home
    store = apply_definitions(settings)
    request = request_rows(history)
    joined = historical_features(store, request, store.get_feature_service(spec.FEATURE_SERVICE))

    assert joined["transaction_id"].tolist() == request["transaction_id"].tolist()
    assert joined["is_fraud"].tolist() == request["is_fraud"].tolist()  # twins keep own labels

    user_ttl = pd.Timedelta(store.get_stream_feature_view(spec.USER_FEATURE_VIEW).ttl)
    merchant_ttl = pd.Timedelta(store.get_feature_view(spec.MERCHANT_FEATURE_VIEW).ttl)
    truth = pd.concat([
        as_of(request, pd.read_parquet(spec.user_features_path(settings)), spec.USER_ENTITY_KEY,
              user_ttl, list(spec.USER_FEATURES)),
        as_of(request, pd.read_parquet(spec.merchant_features_path(settings)),
              spec.MERCHANT_ENTITY_KEY, merchant_ttl, list(spec.MERCHANT_FEATURES)),
    ], axis=1).reset_index(drop=True)
    got = joined[truth.columns].astype("float64")
    pd.testing.assert_frame_equal(got, truth.astype("float64"))

    by_id = joined.set_index("transaction_id")
    stale = by_id.loc["stale-user"]
    assert stale[list(spec.USER_FEATURES)].isna().all()  # user outside its 2-day TTL
    assert stale[list(spec.MERCHANT_FEATURES)].notna().all()  # the merchant still known
    assert by_id.loc["before-history"][[*spec.USER_FEATURES, *spec.MERCHANT_FEATURES]].isna().all()

    known = joined["amount_mean_24h"].notna() & (joined["amount_mean_24h"] > 0)
    np.testing.assert_allclose(joined.loc[known, "amount_to_user_mean_24h"],
                               joined.loc[known, "amount"] / joined.loc[known, "amount_mean_24h"])
    assert joined.loc[~known, "amount_to_user_mean_24h"].isna().all()


def test_a_store_that_drops_a_row_is_refused(home) -> None:
    """Feast's `file` (Dask) store drops the row outside the user TTL: the wrapper says so."""
    settings, history = home
    config = repo_config(settings, offline_store={"type": "file"})
    store = apply_definitions(settings, FeatureStore(repo_path=str(settings.feature_repo),
                                                     config=config))
    request = request_rows(history)
    with pytest.raises(LostRows, match=r"offline store \(file\) answered \d+ rows"):
        historical_features(store, request, store.get_feature_service(spec.FEATURE_SERVICE),
                            as_of_views=frozenset())  # every view through the offline store



# [START as_of_equals_feast]
T0 = pd.Timestamp("2025-01-01", tz="UTC")
HOUR, TTL = pd.Timedelta(hours=1), pd.Timedelta(days=30)


def awkward_labels() -> pd.DataFrame:
    """Labels that test each rule: ties, a late label, a duplicate, TTL expiry, no label."""
    rows = [
        ("t1", "m1", True, T0 + HOUR),
        ("t1", "m1", False, T0 + 9 * HOUR),  # a replayed duplicate: the first one counts
        ("t2", "m1", False, T0 + 2 * HOUR),  # t2 and t3 arrive at the same instant
        ("t3", "m1", True, T0 + 2 * HOUR),
        ("t4", "m1", True, T0 + 5 * HOUR),  # a late label: unknown to requests before 5 h
        ("t5", "m1", None, pd.NaT),  # no label yet: ignored
        ("t6", "m2", True, T0 + HOUR),  # m2's only label: expires 30 days later
    ]
    return pd.DataFrame(rows, columns=["transaction_id", "merchant_id", "is_fraud", "label_ts"])


def awkward_requests() -> pd.DataFrame:
    at = [
        ("before-any-label", "m1", T0),
        ("at-first-arrival", "m1", T0 + HOUR),
        ("just-before-tie", "m1", T0 + 2 * HOUR - pd.Timedelta(milliseconds=1)),
        ("at-tie", "m1", T0 + 2 * HOUR),
        ("twin-a", "m1", T0 + 3 * HOUR),
        ("twin-b", "m1", T0 + 3 * HOUR),
        ("before-late-label", "m1", T0 + 5 * HOUR - pd.Timedelta(milliseconds=1)),
        ("after-late-label", "m1", T0 + 6 * HOUR),
        ("ttl-last-instant", "m2", T0 + HOUR + TTL),
        ("ttl-expired", "m2", T0 + HOUR + TTL + pd.Timedelta(milliseconds=1)),
        ("merchant-without-labels", "m3", T0 + 3 * HOUR),
    ]
    frame = pd.DataFrame(at, columns=["transaction_id", "merchant_id", "ts"])
    return entity_frame(frame.assign(user_id="u1").sample(frac=1.0, random_state=3))


@pytest.fixture(scope="module")
def awkward_store(tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    settings = load_settings(home=tmp_path_factory.mktemp("asof"))
    merchants = compute_merchant_features(awkward_labels(), T0 + 60 * TTL)
    write_table_atomic(merchants, spec.merchant_features_path(settings))
    return apply_definitions(settings)


def joins(store: FeatureStore, request: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the as-of merge used for training, Feast's own join) of the merchant features."""
    refs = [f"{spec.MERCHANT_FEATURE_VIEW}:{name}" for name in spec.MERCHANT_FEATURES]
    ours = historical_features(store, request, refs)
    feast = historical_features(store, request, refs, as_of_views=frozenset())
    return ours, feast


def test_the_as_of_merge_equals_feasts_join_on_the_awkward_cases(awkward_store) -> None:
    request = awkward_requests()
    ours, feast = joins(awkward_store, request)
    columns = list(spec.MERCHANT_FEATURES)
    pd.testing.assert_frame_equal(ours[columns].astype("float64"),
                                  feast[columns].astype("float64"))

    got = ours.set_index("transaction_id")[columns]
    expected = {  # (labelled count, fraud rate); None = null
        "before-any-label": None, "at-first-arrival": (1, 1.0), "just-before-tie": (1, 1.0),
        "at-tie": (3, 2 / 3), "twin-a": (3, 2 / 3), "twin-b": (3, 2 / 3),
        "before-late-label": (3, 2 / 3), "after-late-label": (4, 3 / 4),
        "ttl-last-instant": (1, 1.0), "ttl-expired": None, "merchant-without-labels": None,
    }
    for row, values in expected.items():
        if values is None:
            assert got.loc[row].isna().all(), row
        else:
            assert tuple(got.loc[row]) == pytest.approx(values), row


def test_the_whole_service_equals_feasts_join_on_generated_history(home) -> None:
    """User windows (TTL 2 days, a `created` column), merchant rates and the on-demand ratio."""
    settings, history = home
    store = apply_definitions(settings)
    request = request_rows(history)
    service = store.get_feature_service(spec.FEATURE_SERVICE)
    ours = historical_features(store, request, service)
    feast = historical_features(store, request, service, as_of_views=frozenset())
    columns = [ref.split(":", 1)[1] for ref in feature_refs(service)]
    assert ours["transaction_id"].tolist() == request["transaction_id"].tolist()
    assert sorted(ours.columns) == sorted(feast.columns)
    assert ours[columns].notna().any().all()  # the comparison is not between empty columns
    pd.testing.assert_frame_equal(ours[columns].astype("float64"),
                                  feast[columns].astype("float64"))


# [END as_of_equals_feast]

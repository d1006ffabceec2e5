"""Point-in-time leakage, measured: one model trained on a naive join, one on Feast's join.

Why this exists: "the offline AUC was great, production was not" is the classic symptom of a
training set built with a join that ignores time. Here both training sets are built from the
same labelled transactions and the same feature tables:

* naive join: each key's newest row, as the tables stand when the training set is built (what
  `JOIN merchant_features USING (merchant_id)` does);
* point-in-time join: the row that was current at each transaction's own timestamp, through
  Feast (`dojo.features.training.historical_features`).

The merchant reputation features are computed from fraud labels, so their newest row already
counts the label of the very transaction being predicted: target leakage. The user window
features are computed from transactions, so their newest row counts the user's *future*
activity instead: misaligned, not predictive. Both effects show up in the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dojo.features import spec
from dojo.ingestion.offline_store import read_transactions
from dojo.settings import Settings

if TYPE_CHECKING:  # Feast and scikit-learn load in `compare`, so the join logic imports light
    from feast import FeatureStore

ODFV_FEATURE = "amount_to_user_mean_24h"
# The feature sets compared: the label-derived view alone (leakage in its purest form), then
# everything the `fraud_model` feature service serves plus the request's amount.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "merchant reputation": spec.MERCHANT_FEATURES,
    "fraud_model service + amount": (*spec.USER_FEATURES, *spec.MERCHANT_FEATURES, ODFV_FEATURE,
                            "amount"),
}
# Stand-in for "unknown" (no row before the transaction, or a ratio without a mean).
MISSING = -1.0


@dataclass(frozen=True)
class AucRow:
    features: str
    columns: int
    naive_offline: float  # naive model, naive test rows: the number a leaky pipeline reports
    pit_offline: float  # point-in-time model, point-in-time test rows
    naive_on_pit: float  # naive model on point-in-time rows: what it meets when serving


@dataclass(frozen=True)
class LeakageReport:
    rows: int
    frauds: int
    train_rows: int
    built_as_of: pd.Timestamp
    aucs: list[AucRow]
    differs: dict[str, float]  # share of rows whose naive value differs from the PIT value
    frauds_with_rate: tuple[int, int]  # fraud rows with merchant_fraud_rate > 0: naive, PIT


def labelled_transactions(settings: Settings, max_rows: int | None = None) -> pd.DataFrame:
    """Labelled rows of the offline store, oldest first (the newest ``max_rows`` if given)."""
    columns = [*spec.EVENT_COLUMNS, "is_fraud", "label_ts"]
    raw = read_transactions(settings.offline_dir, columns=columns)
    labelled = raw.dropna(subset=["label_ts", "is_fraud"]).drop_duplicates("transaction_id")
    labelled = labelled.sort_values(["ts", "transaction_id"], kind="stable")
    if max_rows is not None:
        labelled = labelled.tail(max_rows)
    return labelled.reset_index(drop=True)


def newest_rows(path: str, key: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each key's newest row of a feature table, among rows stamped up to ``as_of``."""
    table = pd.read_parquet(path)
    table = table[table[spec.TIMESTAMP_COLUMN] <= as_of]
    table = table.sort_values(spec.TIMESTAMP_COLUMN, kind="stable").groupby(key).tail(1)
    drop = [c for c in (spec.TIMESTAMP_COLUMN, spec.CREATED_COLUMN) if c in table.columns]
    return table.drop(columns=drop)


def naive_join(settings: Settings, entities: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Join on the key alone: every transaction gets its user's and merchant's newest row."""
    users = newest_rows(str(spec.user_features_path(settings)), spec.USER_ENTITY_KEY, as_of)
    merchants = newest_rows(str(spec.merchant_features_path(settings)),
                            spec.MERCHANT_ENTITY_KEY, as_of)
    joined = entities.merge(users, on=spec.USER_ENTITY_KEY, how="left")
    joined = joined.merge(merchants, on=spec.MERCHANT_ENTITY_KEY, how="left")
    mean = joined["amount_mean_24h"]
    joined[ODFV_FEATURE] = (joined["amount"] / mean).where(mean > 0)  # as the on-demand view
    return joined


def _matrix(frame: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    return frame[list(columns)].astype("float64").fillna(MISSING).to_numpy()


def _fit(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return model.fit(x, y)


def compare(settings: Settings, store: FeatureStore, *, test_fraction: float = 0.3,
            max_rows: int | None = None) -> LeakageReport:
    """Train on the oldest (1 - test_fraction) by time, test on the rest, for both joins.

    The naive join takes the tables as they stood when the last label had arrived, so the
    numbers depend only on the labelled history (not on what was streamed since).
    """
    from sklearn.metrics import roc_auc_score

    from dojo.features.training import entity_frame, historical_features

    labelled = labelled_transactions(settings, max_rows)
    if labelled.empty or labelled["is_fraud"].nunique() < 2:
        raise ValueError("no labelled history with both classes: run `dojo generate history` "
                         "and `dojo features materialize` first")
    as_of = pd.Timestamp(labelled["label_ts"].max())
    entities = entity_frame(labelled[["transaction_id", "user_id", "merchant_id", "amount", "ts"]])
    pit = historical_features(store, entities, store.get_feature_service(spec.FEATURE_SERVICE))
    naive = naive_join(settings, entities, as_of)
    y = labelled["is_fraud"].astype(bool).to_numpy(dtype=int)
    cut = int(len(labelled) * (1 - test_fraction))
    aucs = []
    for name, columns in FEATURE_SETS.items():
        x_naive, x_pit = _matrix(naive, columns), _matrix(pit, columns)
        naive_model = _fit(x_naive[:cut], y[:cut])
        pit_model = _fit(x_pit[:cut], y[:cut])
        aucs.append(AucRow(
            name, len(columns),
            roc_auc_score(y[cut:], naive_model.predict_proba(x_naive[cut:])[:, 1]),
            roc_auc_score(y[cut:], pit_model.predict_proba(x_pit[cut:])[:, 1]),
            roc_auc_score(y[cut:], naive_model.predict_proba(x_pit[cut:])[:, 1]),
        ))
    differs = {
        column: float((naive[column].astype("float64").fillna(MISSING).to_numpy()
                       != pit[column].astype("float64").fillna(MISSING).to_numpy()).mean())
        for column in ("txn_count_24h", "merchant_fraud_rate")
    }
    fraud = y == 1
    with_rate = (int((naive["merchant_fraud_rate"].fillna(0).to_numpy()[fraud] > 0).sum()),
                 int((pit["merchant_fraud_rate"].fillna(0).to_numpy()[fraud] > 0).sum()))
    return LeakageReport(len(labelled), int(fraud.sum()), cut, as_of, aucs, differs, with_rate)

"""The training set: labelled transactions joined point-in-time with the `fraud_model` features.

Why Feast's point-in-time join: each training row must see the features exactly as they were
at the transaction's instant (the user's windows up to that moment, the merchant's reputation
from labels that had arrived by then). Serving asks Feast for the same feature service, so the
model is trained on what it will be given. The join itself is `dojo.features.training`'s
wrapper, which keeps one output row per input row and joins the views as-of, with Feast's
rules and Feast's definitions (see its docstring for why).

Why a time-based split: fraud patterns drift, so a model must be judged on transactions newer
than any it learned from, as it will be in production; a random split would leak the future.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from dojo.features import spec
from dojo.settings import Settings
from dojo.training.errors import DataValidationError, DependencyDown

LABEL = "is_fraud"
TIME = spec.TIMESTAMP_COLUMN
# Known when a transaction is scored (sent in the request), so the model may use them as is.
REQUEST_COLUMNS: tuple[str, ...] = ("amount", "channel", "merchant_category")
CATEGORICAL: tuple[str, ...] = ("channel", "merchant_category")
# Carried along for segment metrics and traceability; never model inputs.
META_COLUMNS: tuple[str, ...] = ("transaction_id", TIME, "user_id", "merchant_id", "country")


@dataclass(frozen=True)
class TrainingSet:
    frame: pd.DataFrame  # META_COLUMNS + features + LABEL
    features: list[str]  # model input columns, in signature order
    feature_service: str
    # Wall seconds of the steps (`feature_tables`, `point_in_time_join`): logged with the run
    # and read by benchmarks/bench_training.py.
    seconds: dict[str, float] = field(default_factory=dict)


def feature_service_columns(store: object, name: str = spec.FEATURE_SERVICE) -> list[str]:
    """Names of the features a Feast feature service returns, in its order."""
    service = store.get_feature_service(name)  # type: ignore[attr-defined]
    return [f.name for p in service.feature_view_projections for f in p.features]


def build_training_set(
    settings: Settings, labelled: pd.DataFrame, refresh_features: bool = True
) -> TrainingSet:
    """Labelled transactions -> features as of each transaction's time, plus the label.

    ``refresh_features`` first rebuilds Feast's offline tables from the raw events (the same
    idempotent batch build `dojo features materialize` runs), so rows appended since the last
    build have features too. Nothing is written to the online store.
    """
    from dojo.features.batch import build_feature_tables
    from dojo.features.store import apply_definitions, quiet_feast_warnings
    from dojo.features.training import entity_frame, historical_features

    quiet_feast_warnings()

    seconds: dict[str, float] = {}
    try:
        if refresh_features:
            started = time.perf_counter()
            build_feature_tables(settings)
            seconds["feature_tables"] = time.perf_counter() - started
        store = apply_definitions(settings)
        service = store.get_feature_service(spec.FEATURE_SERVICE)
    except OSError as error:
        raise DependencyDown(
            "Feast feature repo/registry", str(settings.feature_repo),
            f"{type(error).__name__}: {error}", hint="run `dojo features apply`",
        ) from error
    served = feature_service_columns(store)
    entity = entity_frame(labelled[["transaction_id", "ts", "user_id", "merchant_id", "country",
                                    *REQUEST_COLUMNS, LABEL]])
    started = time.perf_counter()
    joined = historical_features(store, entity, service)
    seconds["point_in_time_join"] = time.perf_counter() - started
    features = [*served, *(c for c in REQUEST_COLUMNS if c not in served)]
    frame = joined[[*META_COLUMNS, *features, LABEL]].copy()
    frame[LABEL] = frame[LABEL].astype(bool)
    frame = frame.sort_values([TIME, "transaction_id"], kind="stable").reset_index(drop=True)
    return TrainingSet(frame, features, spec.FEATURE_SERVICE, seconds)


def numeric_as_float(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Every numeric feature as float64: a model signature then accepts ints and nulls alike
    (an int column in the signature rejects the null a missing feature becomes)."""
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
    return frame.astype(dict.fromkeys(numeric, "float64"))


def time_split(
    frame: pd.DataFrame, valid_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Train on everything before a cutoff, validate on the newest ``valid_fraction`` of rows.

    The cutoff is a timestamp (not a row count), so every transaction of one instant lands on
    the same side.
    """
    cutoff = frame[TIME].quantile(1.0 - valid_fraction)
    train, valid = frame[frame[TIME] < cutoff], frame[frame[TIME] >= cutoff]
    for name, part in (("train", train), ("validation", valid)):
        positives = int(part[LABEL].sum())
        if positives == 0 or positives == len(part):
            raise DataValidationError([(LABEL, f"both classes in the {name} split",
                                        f"{positives} positives in {len(part):,} rows "
                                        f"(cutoff {cutoff})")])
    return train.reset_index(drop=True), valid.reset_index(drop=True), cutoff

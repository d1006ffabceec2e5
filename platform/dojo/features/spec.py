"""Names, windows and file locations of the fraud features, shared by every writer and reader.

Why one module: the feature repo (`feature_repo/fraud_features.py`), the batch builder, the
stream processor and the tests must agree on every column name and window length. If a name
lived in two places, a rename on one side would be a silent training/serving skew.
"""

from __future__ import annotations

from pathlib import Path

from dojo.settings import Settings

# Event-time windows of the per-user features, in seconds.
WINDOW_10M = 10 * 60
WINDOW_1H = 60 * 60
WINDOW_24H = 24 * 60 * 60
LONGEST_WINDOW_S = WINDOW_24H

# Per-user features: the state of the user's activity *including* the transaction at the row's
# timestamp (a row at time t describes all of the user's events with ts <= t).
USER_COUNT_FEATURES: tuple[str, ...] = (
    "txn_count_10m", "txn_count_1h", "txn_count_24h",
    "distinct_merchants_24h", "distinct_countries_24h", "is_new_device",
)
USER_FLOAT_FEATURES: tuple[str, ...] = (
    "amount_sum_1h", "amount_mean_1h", "amount_sum_24h", "amount_mean_24h",
    "seconds_since_prev_txn",
)
USER_FEATURES: tuple[str, ...] = USER_COUNT_FEATURES + USER_FLOAT_FEATURES
# `seconds_since_prev_txn` for a user's first transaction (no previous one exists).
NO_PREVIOUS_TXN = -1.0

MERCHANT_FEATURES: tuple[str, ...] = ("merchant_labelled_txn_count", "merchant_fraud_rate")

# The raw event columns the transforms read (a subset of the Transaction model).
EVENT_COLUMNS: tuple[str, ...] = (
    "transaction_id", "ts", "user_id", "merchant_id", "amount", "country", "device_id",
)

# Feast object names (the feature repo defines them; clients refer to them by these names).
USER_ENTITY_KEY = "user_id"
MERCHANT_ENTITY_KEY = "merchant_id"
USER_FEATURE_VIEW = "user_txn_features"
USER_PUSH_SOURCE = "user_txn_push"
MERCHANT_FEATURE_VIEW = "merchant_label_features"
ODFV_NAME = "amount_vs_user_history"
FEATURE_SERVICE = "fraud_model"
TIMESTAMP_COLUMN = "event_timestamp"
CREATED_COLUMN = "created"


def features_dir(settings: Settings) -> Path:
    """Where the batch feature tables (Feast's offline sources) are written."""
    return settings.offline_dir / "features"


def user_features_path(settings: Settings) -> Path:
    return features_dir(settings) / "user_txn_features.parquet"


def merchant_features_path(settings: Settings) -> Path:
    return features_dir(settings) / "merchant_label_features.parquet"


def feast_dir(settings: Settings) -> Path:
    """Registry and SQLite online store: local state, under `home` so `make clean` removes it."""
    return settings.home / "feast"


def user_feature_refs() -> list[str]:
    """`view:feature` references of every per-user feature, for get_online_features."""
    return [f"{USER_FEATURE_VIEW}:{name}" for name in USER_FEATURES]

"""A tiny fraud model and in-memory stand-ins for the model server's registry and features.

The model is a real scikit-learn pipeline on the real `fraud_model` columns, fitted in
milliseconds on made-up rows where a large amount means fraud, so a test can predict the
decision it should get.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from dojo.contracts import Transaction
from dojo.features import spec
from dojo.serving.model_loading import LoadedModel
from dojo.serving.online_features import SERVICE_FEATURES, Fetched

CATEGORICAL = ["channel", "merchant_category"]
NUMERIC = [*SERVICE_FEATURES, "amount"]
COLUMNS = [*NUMERIC, *CATEGORICAL]


def tiny_pipeline(flip: bool = False, seed: int = 0) -> Pipeline:
    """Fraud when amount > 500 (``flip``: when amount < 500, a visibly different model)."""
    rng = np.random.default_rng(seed)
    rows = 400
    frame = pd.DataFrame({name: rng.random(rows) for name in NUMERIC})
    frame["amount"] = rng.uniform(1, 1000, rows)
    frame["channel"] = rng.choice(["pos", "ecom", "atm"], rows)
    frame["merchant_category"] = rng.choice(["grocery", "travel"], rows)
    label = (frame["amount"] > 500) != flip
    model = Pipeline([
        ("prep", ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median")), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ])),
        ("clf", LogisticRegression(max_iter=500)),
    ])
    return model.fit(frame[COLUMNS], label)


def generator_pipeline(invert: bool = False) -> Pipeline:
    """A model that learned the generator's fraud patterns (``invert``: the labels reversed, a
    version that loads, answers and ranks the known frauds last).

    Fitted in about a second on generated rows as the server presents a request with no online
    history (first-transaction features), which is how it scores the deploy's smoke rows; it
    ranks them with a ROC AUC of about 0.97 (inverted: 0.03)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from dojo.contracts import TRANSACTION_FIELDS
    from dojo.serving.degraded import first_transaction_features
    from dojo.synthetic.generator import generate_live

    generated = generate_live(3000, 11, fraud_rate=0.3)
    rows = []
    for record in generated[list(TRANSACTION_FIELDS)].to_dict("records"):
        transaction = Transaction(**{**record, "ts": record["ts"].isoformat()})
        features = first_transaction_features(transaction)
        rows.append({c: features.get(c, getattr(transaction, c, None)) for c in COLUMNS})
    frame = pd.DataFrame(rows)[COLUMNS].astype(dict.fromkeys(NUMERIC, float))
    model = Pipeline([
        ("prep", ColumnTransformer([
            ("num", SimpleImputer(strategy="constant", fill_value=-1.0,
                                  keep_empty_features=True), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ])),
        ("clf", HistGradientBoostingClassifier(max_iter=50, random_state=0)),
    ])
    return model.fit(frame, generated["is_fraud"].to_numpy() != invert)


def strict_pipeline() -> Pipeline:
    """A model that loads and answers for the categories it saw ("pos", "grocery") and raises
    on any other: its encoder refuses unknown categories (the classic training-sample bug)."""
    rng = np.random.default_rng(1)
    rows = 200
    frame = pd.DataFrame({name: rng.random(rows) for name in NUMERIC})
    frame["amount"] = rng.uniform(1, 1000, rows)
    frame["channel"] = "pos"
    frame["merchant_category"] = "grocery"
    model = Pipeline([
        ("prep", ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median")), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="error"), CATEGORICAL),
        ])),
        ("clf", LogisticRegression(max_iter=500)),
    ])
    return model.fit(frame[COLUMNS], frame["amount"] > 500)


def example_frame(rows: int = 5) -> pd.DataFrame:
    frame = pd.DataFrame({name: [0.5] * rows for name in NUMERIC})
    frame["amount"] = [10.0 * (i + 1) for i in range(rows)]
    frame["channel"] = ["pos"] * rows
    frame["merchant_category"] = ["grocery"] * rows
    return frame[COLUMNS]


def loaded(version: str = "1", flip: bool = False, size: int = 1000,
           threshold: float = 0.5) -> LoadedModel:
    return LoadedModel(name="fraud", version=version, predictor=tiny_pipeline(flip),
                       columns=tuple(COLUMNS), text_columns=frozenset(CATEGORICAL),
                       threshold=threshold, size_bytes=size)


class MemoryRegistry:
    """Versions and aliases in a dict; ``down`` makes it unreachable."""

    def __init__(self, versions: dict[str, LoadedModel], aliases: dict[str, str]) -> None:
        self.name = "fraud"
        self.versions = versions
        self.aliases = aliases
        self.down = False
        self.loads: list[str] = []

    def unreachable(self) -> str | None:
        return "registry http://registry.invalid unreachable (ConnectError)" if self.down \
            else None

    def alias_version(self, alias: str) -> str | None:
        return self.aliases.get(alias)

    def load(self, version: str) -> LoadedModel:
        self.loads.append(version)
        return self.versions[version]


class MemoryFeatures:
    """Online features for the users in ``known``; ``down`` makes every read fail."""

    def __init__(self, known: dict[str, float] | None = None) -> None:
        self.known = known or {}
        self.down = False
        self.reads = 0

    def fetch(self, transactions: list[Transaction]) -> Fetched:
        from dojo.serving.online_features import FeaturesUnavailable

        self.reads += 1
        if self.down:
            raise FeaturesUnavailable("online store (memory) read failed: ConnectionError")
        columns: dict[str, list[Any]] = {name: [] for name in SERVICE_FEATURES}
        stamps: list[float | None] = []
        for t in transactions:
            stamp = self.known.get(t.user_id)
            for name in SERVICE_FEATURES:
                columns[name].append(None if stamp is None else 0.5)
            stamps.append(stamp)
        return Fetched(columns=columns, user_ts=stamps)

    def unavailable(self) -> str | None:
        return "online store (memory) read failed: ConnectionError" if self.down else None

    def warm_up(self) -> None:
        return None


def transaction(i: int = 0, amount: float = 42.0, user: str | None = None,
                **changes: Any) -> dict[str, Any]:
    """A valid request body (JSON-ready)."""
    body = {
        "transaction_id": f"tx_test_{i:06d}",
        "ts": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        "user_id": user or f"u{i % 50:07d}", "card_id": f"c{i:07d}",
        "merchant_id": f"m{i % 7:06d}", "merchant_category": "grocery", "amount": amount,
        "currency": "EUR", "country": "DE", "device_id": f"d{i:07d}", "channel": "ecom",
    }
    body.update(changes)
    return body


assert set(spec.USER_FEATURES) <= set(SERVICE_FEATURES)


# ---------------------------------------------------------------------- real-component helpers
def register_versions(tracking_uri: str, name: str, flips: tuple[bool, ...] = (False, True),
                      threshold: float = 0.5) -> list[str]:
    """Log and register one tiny model per entry (skops, as training does); return versions."""
    return register_models(tracking_uri, name, [tiny_pipeline(flip) for flip in flips],
                           threshold)


def register_models(tracking_uri: str, name: str, models: list[Pipeline],
                    threshold: float = 0.5) -> list[str]:
    """Log and register each fitted pipeline, in order (skops, as training does)."""
    import mlflow
    from mlflow import MlflowClient

    from dojo.training.model_logging import log_sklearn_model

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    experiment = client.create_experiment(f"{name}-runs")
    versions = []
    for model in models:
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric("threshold", threshold)
            uri = log_sklearn_model(model, example_frame())
        versions.append(str(mlflow.register_model(uri, name).version))
    return versions


def push_user_features(settings: Any, user_id: str, age_s: float = 60.0) -> None:
    """Write one user's online row through Feast's push source, as `dojo stream` does."""
    from feast.data_source import PushMode

    from dojo.features.store import apply_definitions, quiet_feast_warnings

    quiet_feast_warnings()
    store = apply_definitions(settings)
    stamp = pd.Timestamp(datetime.now(UTC) - timedelta(seconds=age_s))
    row = {spec.USER_ENTITY_KEY: user_id, spec.TIMESTAMP_COLUMN: stamp,
           spec.CREATED_COLUMN: pd.Timestamp(datetime.now(UTC))}
    row.update({name: 1 for name in spec.USER_COUNT_FEATURES})
    row.update({name: 20.0 for name in spec.USER_FLOAT_FEATURES})
    store.push(spec.USER_PUSH_SOURCE, pd.DataFrame([row]), to=PushMode.ONLINE)

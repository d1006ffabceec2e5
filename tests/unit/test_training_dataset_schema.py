"""The dataset schema publish logs to MLflow, computed from a few rows, equals MLflow's own
inference over every row (which publish skips because it type-checks each value in Python)."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from dojo.training.publish import SCHEMA_ROWS, dataset_schema


def frame_with_late_nulls() -> pd.DataFrame:
    rows = SCHEMA_ROWS * 3
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "transaction_id": [f"tx{i}" for i in range(rows)],
        "channel": rng.choice(["web", "pos", "app"], rows),
        "amount": rng.random(rows),
        "merchant_fraud_rate": rng.random(rows),
        "country": [f"C{i % 7}" for i in range(rows)],
        "event_timestamp": pd.date_range("2025-01-01", periods=rows, freq="s", tz="UTC"),
        "is_fraud": rng.random(rows) < 0.1,
    })
    # nulls only past the first rows: a schema from the head alone would call them required
    frame.loc[rows - 10, "merchant_fraud_rate"] = np.nan
    frame.loc[rows - 20, "country"] = None
    return frame


def test_schema_from_a_few_rows_equals_mlflows_full_inference() -> None:
    frame = frame_with_late_nulls()
    expected = mlflow.data.from_pandas(frame).schema
    got = dataset_schema(frame)
    assert got == expected
    optional = {spec.name for spec in got.inputs if not spec.required}
    assert optional == {"merchant_fraud_rate", "country"}

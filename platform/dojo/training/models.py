"""The candidate models: a logistic-regression baseline and a gradient-boosted model.

Why two: the baseline is what a new model must clearly beat to justify its extra cost
(latency, size, opacity); when the boosted model does not beat it, the baseline is the
candidate. Both are whole scikit-learn pipelines (imputation and encoding included), so the
logged model takes the raw feature columns exactly as Feast and the request deliver them,
and serving cannot apply a different preprocessing than training did.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from dojo.training.dataset import CATEGORICAL, LABEL

BASELINE = "logreg"
BOOSTED = "hist_gbm"


@dataclass
class Trained:
    name: str
    model: Pipeline
    fit_seconds: float
    params: dict[str, object]


def _split_columns(features: list[str]) -> tuple[list[str], list[str]]:
    categorical = [c for c in features if c in CATEGORICAL]
    return [c for c in features if c not in categorical], categorical


def build_candidates(features: list[str], seed: int = 0) -> dict[str, Pipeline]:
    """Unfitted pipelines by name; each maps the raw feature columns to P(fraud)."""
    numeric, categorical = _split_columns(features)
    baseline = Pipeline([
        ("prep", ColumnTransformer([
            # Feast returns null for "no history in the TTL" (e.g. a merchant without labels):
            # the median is a neutral stand-in for a linear model.
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ])),
        # Balanced weights: with ~1.5% positives an unweighted fit barely moves off "legit".
        ("clf", LogisticRegression(max_iter=2000, class_weight="balanced")),
    ])
    boosted = Pipeline([
        ("prep", ColumnTransformer([
            ("num", "passthrough", numeric),  # trees handle nulls natively
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                   encoded_missing_value=np.nan), categorical),
        ])),
        ("clf", HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=31, l2_regularization=1.0,
            categorical_features=list(range(len(numeric), len(numeric) + len(categorical))),
            random_state=seed,
        )),
    ])
    return {BASELINE: baseline, BOOSTED: boosted}


def model_params(name: str, model: Pipeline) -> dict[str, object]:
    """The classifier's hyper-parameters (plain values only), prefixed with the model name."""
    params = model.named_steps["clf"].get_params()
    plain = {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | None)}
    return {f"{name}.{key}": value for key, value in sorted(plain.items())}


def compute_threads() -> threadpool_limits:
    """Cap OpenMP/BLAS threads at half the cores for fitting and scoring.

    The stack (API server, scheduler, MLflow) shares the machine, and an oversubscribed
    OpenMP pool spins instead of working: measured on 2 busy cores, the boosted fit took
    6.7 s with 2 threads and 0.22 s with 1.
    """
    return threadpool_limits(limits=max(1, (os.cpu_count() or 2) // 2))


def fit_candidates(
    train: pd.DataFrame, features: list[str], seed: int = 0, shuffle_labels: bool = False
) -> list[Trained]:
    """Fit every candidate on the training split.

    ``shuffle_labels`` permutes the training labels (validation stays honest): a model with
    no signal, used by the gate drill and the tests to show a bad model being refused.
    """
    labels = train[LABEL].to_numpy(dtype=bool)
    if shuffle_labels:
        labels = np.random.default_rng(seed).permutation(labels)
    trained = []
    with compute_threads():
        for name, pipeline in build_candidates(features, seed).items():
            started = time.perf_counter()
            pipeline.fit(train[features], labels)
            trained.append(Trained(name, pipeline, time.perf_counter() - started,
                                   model_params(name, pipeline)))
    return trained

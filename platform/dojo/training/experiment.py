"""An algorithm sweep: several model families on one training set, one MLflow run each.

Why a sweep next to the DAG: choosing *which kind* of model to put in the pipeline is an
experiment, done before (and apart from) the daily retraining. Every algorithm gets the same
point-in-time training set and the same time split the DAG uses, so the runs differ only in
the algorithm, and MLflow's compare view shows what each one buys (quality) and costs (fit
time, latency, size). A constant "prior" model is included on purpose: it is the floor every
real model has to beat, and its PR-AUC equals the fraud rate.

Layout in MLflow: one parent run per sweep (the data, the features, an overlay of every
precision-recall curve) with one nested run per algorithm (its parameters, metrics, curves
and the model itself, with signature and input example).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import precision_recall_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from dojo.settings import Settings
from dojo.training import plots, tracking
from dojo.training.dataset import (
    CATEGORICAL,
    LABEL,
    build_training_set,
    numeric_as_float,
    time_split,
)
from dojo.training.evaluation import evaluate, scores
from dojo.training.inputs import check_inputs, load_window
from dojo.training.model_logging import log_sklearn_model
from dojo.training.models import BASELINE, BOOSTED, build_candidates, compute_threads, model_params
from dojo.training.names import SEED
from dojo.training.validation import labelled_rows
from dojo.training.window import TrainingWindow

KIND_TAG = "dojo.kind"  # "sweep" on the parent run, "algorithm" on each child
ALGORITHM_TAG = "dojo.algorithm"


def _prior(features: list[str]) -> Pipeline:
    return Pipeline([("clf", DummyClassifier(strategy="prior"))])


def _forest(features: list[str]) -> Pipeline:
    numeric = [c for c in features if c not in CATEGORICAL]
    categorical = [c for c in features if c in CATEGORICAL]
    return Pipeline([
        ("prep", ColumnTransformer([
            ("num", SimpleImputer(strategy="median"), numeric),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
             categorical),
        ])),
        # One job: the stack shares these cores (see compute_threads).
        ("clf", RandomForestClassifier(n_estimators=150, min_samples_leaf=5, n_jobs=1,
                                       class_weight="balanced_subsample", random_state=SEED)),
    ])


def _candidate(name: str) -> Callable[[list[str]], Pipeline]:
    return lambda features: build_candidates(features, SEED)[name]


# name -> (factory, one line on why it is in the sweep)
ALGORITHMS: dict[str, tuple[Callable[[list[str]], Pipeline], str]] = {
    "prior": (_prior, "constant fraud rate: the floor (PR-AUC = base rate)"),
    BASELINE: (_candidate(BASELINE), "linear baseline, the DAG's first candidate"),
    "random_forest": (_forest, "bagged trees: robust, bigger and slower to score"),
    BOOSTED: (_candidate(BOOSTED), "boosted trees, the DAG's second candidate"),
}


@dataclass
class AlgorithmRun:
    name: str
    run_id: str
    fit_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Sweep:
    experiment_id: str
    parent_run_id: str
    window: TrainingWindow
    train_rows: int
    valid_rows: int
    runs: list[AlgorithmRun]


def unknown_algorithms(names: list[str]) -> list[str]:
    return [name for name in names if name not in ALGORITHMS]


def load_data(settings: Settings, end: datetime, days: int) -> tuple[TrainingWindow, Any]:
    """The DAG's own steps: inputs check, labelled rows, Feast point-in-time join."""
    window = TrainingWindow(end - timedelta(days=1), end, end - timedelta(days=days))
    check_inputs(settings, window)
    labelled = labelled_rows(load_window(settings, window), window)
    return window, build_training_set(settings, labelled)


def _overlay(y: np.ndarray, curves: dict[str, np.ndarray], base_rate: float) -> Figure:
    """Every algorithm's precision-recall curve on one plot."""
    fig = Figure(figsize=(6.5, 4.8))
    ax = fig.subplots()
    for name, p in curves.items():
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=name)
    ax.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.2%}")
    ax.set(title="Precision-recall on the validation days", xlabel="recall",
           ylabel="precision", ylim=(0, 1.02))
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def _log_algorithm(name: str, model: Pipeline, fit_seconds: float, valid: pd.DataFrame,
                   features: list[str], p: np.ndarray, settings: Settings,
                   experiment: str) -> AlgorithmRun:
    """``p`` is the model's P(fraud) on ``valid``, scored once by the caller."""
    result = evaluate(name, model, valid, features, settings.gate_precision_target,
                      settings.gate_min_segment_positives, p)
    with mlflow.start_run(run_name=name, nested=True, experiment_id=experiment) as run:
        mlflow.set_tags({KIND_TAG: "algorithm", ALGORITHM_TAG: name,
                         "mlflow.note.content": ALGORITHMS[name][1]})
        mlflow.log_params({"algorithm": name, **model_params(name, model)})
        mlflow.log_metrics({**result.metrics, "fit_seconds": fit_seconds})
        mlflow.log_figure(plots.curves(valid[LABEL].to_numpy(dtype=bool), p, name),
                          "plots/roc_pr_curves.png")
        log_sklearn_model(model, valid[features].dropna().head(5))
    return AlgorithmRun(name, run.info.run_id, fit_seconds, result.metrics)


def run_sweep(settings: Settings, end: datetime, days: int, algorithms: list[str],
              experiment_name: str,
              on_step: Callable[[str], None] = lambda _: None) -> Sweep:
    """Train and log every algorithm on one training set; returns runs, best PR-AUC first."""
    client = tracking.client(settings)  # fails fast, naming MLflow, if it is down
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        experiment = client.get_experiment(client.create_experiment(experiment_name))
    elif experiment.lifecycle_stage == "deleted":  # deleted in the UI: the name stays taken
        client.restore_experiment(experiment.experiment_id)
    on_step("point-in-time training set (Feast)")
    window, training_set = load_data(settings, end, days)
    frame = numeric_as_float(training_set.frame, training_set.features)
    train, valid, cutoff = time_split(frame, settings.train_valid_fraction)
    features = training_set.features
    revision = tracking.git_revision()
    runs: list[AlgorithmRun] = []
    curves: dict[str, np.ndarray] = {}
    with mlflow.start_run(run_name=f"sweep to {end:%Y-%m-%d} ({days} d)",
                          experiment_id=experiment.experiment_id) as parent:
        mlflow.set_tags({KIND_TAG: "sweep", tracking.FEATURE_SERVICE_TAG:
                         training_set.feature_service, tracking.GIT_TAG: revision})
        mlflow.log_params({"window_start": window.window_start.isoformat(),
                           "window_end": window.interval_end.isoformat(),
                           "split_cutoff": cutoff.isoformat(), "features": ",".join(features),
                           "algorithms": ",".join(algorithms), "seed": SEED})
        mlflow.log_metrics({"rows_train": len(train), "rows_validation": len(valid),
                            "positives_train": int(train[LABEL].sum()),
                            "positives_validation": int(valid[LABEL].sum())})
        labels = train[LABEL].to_numpy(dtype=bool)
        for name in algorithms:
            on_step(f"{name}: fit, evaluate, log")
            model = ALGORITHMS[name][0](features)
            with compute_threads():
                started = time.perf_counter()
                model.fit(train[features], labels)
                fit_seconds = time.perf_counter() - started
                curves[name] = scores(model, valid, features)
                runs.append(_log_algorithm(name, model, fit_seconds, valid, features,
                                           curves[name], settings, experiment.experiment_id))
        y = valid[LABEL].to_numpy(dtype=bool)
        mlflow.log_figure(_overlay(y, curves, float(y.mean())),
                          "plots/pr_curves_all.png")
    runs.sort(key=lambda run: run.metrics["pr_auc"], reverse=True)
    return Sweep(experiment.experiment_id, parent.info.run_id, window, len(train), len(valid),
                 runs)


def compare_url(settings: Settings, experiment_id: str, run_ids: list[str]) -> str:
    """The MLflow UI's side-by-side compare page for these runs."""
    quoted = ",".join(f"%22{run_id}%22" for run_id in run_ids)
    return (f"{settings.tracking_uri}/#/compare-runs?runs=[{quoted}]"
            f"&experiments=[%22{experiment_id}%22]")


def search(settings: Settings, experiment_name: str, metric: str,
           filter_string: str = "") -> pd.DataFrame:
    """Algorithm runs of the experiment, best ``metric`` first (MLflow's search syntax)."""
    tracking.require_mlflow(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    query = f"tags.`{KIND_TAG}` = 'algorithm'"
    if filter_string:
        query += f" and {filter_string}"
    return mlflow.search_runs(experiment_names=[experiment_name], filter_string=query,
                              order_by=[f"metrics.{metric} DESC", "attributes.start_time DESC"])

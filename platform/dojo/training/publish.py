"""Log a training run to MLflow and, if the gates passed, register it and move `challenger`.

Why one run per data interval, resumed on retry: an Airflow retry of this step must not leave
two runs (or two model versions) for one interval. An unfinished run of the interval is
resumed, and a version is only created if none exists for the run yet.

Why aliases and not stages: MLflow deprecated registry stages. `challenger` marks the newest
version that passed the gates, `champion` the one serving; moving `champion` is a separate,
deliberate act (`dojo model promote`). Staging/Production in older guides map to
challenger/champion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import mlflow
import pandas as pd
from matplotlib.figure import Figure

from dojo.settings import Settings
from dojo.training import plots, tracking
from dojo.training.dataset import LABEL
from dojo.training.model_logging import log_sklearn_model
from dojo.training.models import Trained, compute_threads
from dojo.training.window import TrainingWindow


@dataclass
class RunRecord:
    """Everything one training run produced, ready to log."""

    window: TrainingWindow
    airflow_run_id: str
    frame: pd.DataFrame  # training set incl. a `split` column (train / validation)
    features: list[str]
    feature_service: str
    trained: list[Trained]
    evaluations: dict[str, dict[str, Any]]
    candidate: str
    gate: dict[str, Any]
    champion: dict[str, Any] | None  # ChampionScore as a dict; None when there is none
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    run_id: str
    version: str | None
    aliases: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "version": self.version, "aliases": self.aliases}


def _log_figures(record: RunRecord, model: Any) -> None:
    valid = record.frame[record.frame["split"] == "validation"]
    y = valid[LABEL].to_numpy(dtype=bool)
    p = model.predict_proba(valid[record.features])[:, 1]
    threshold = record.evaluations[record.candidate]["threshold"]
    figures: dict[str, Figure] = {
        "plots/roc_pr_curves.png": plots.curves(y, p, f"{record.candidate} on validation"),
        "plots/confusion_matrix.png": plots.confusion_matrix(y, p, threshold),
        "plots/calibration.png": plots.calibration(y, p),
    }
    importance_fig, importance = plots.feature_importance(model, valid, record.features)
    figures["plots/feature_importance.png"] = importance_fig
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)
    mlflow.log_dict(importance, "reports/feature_importance.json")


def _log_children(record: RunRecord, client: Any, parent_id: str, experiment: str) -> None:
    """One nested run per candidate algorithm (params + metrics), for side-by-side compare."""
    existing = {r.info.run_name for r in client.search_runs(
        [experiment], f"tags.mlflow.parentRunId = '{parent_id}'")}
    for trained in record.trained:
        if trained.name in existing:
            continue
        with mlflow.start_run(run_name=trained.name, nested=True, experiment_id=experiment):
            mlflow.log_params(trained.params)
            mlflow.log_metrics({**record.evaluations[trained.name]["metrics"],
                                "fit_seconds": trained.fit_seconds})
            mlflow.set_tags({"dojo.parent_interval": record.window.id,
                             "dojo.selected": str(trained.name == record.candidate).lower()})


def _log_data(record: RunRecord) -> None:
    """The training snapshot (the drift monitor's reference) and MLflow dataset inputs."""
    snapshot = record.frame
    with TemporaryDirectory() as tmp:
        # parquet, not mlflow.log_table (JSON): the monitor needs the exact dtypes back
        file = Path(tmp) / Path(tracking.SNAPSHOT_ARTIFACT).name
        snapshot.to_parquet(file, index=False)
        mlflow.log_artifact(str(file), artifact_path=str(Path(tracking.SNAPSHOT_ARTIFACT).parent))
        source = _http_source(mlflow.get_artifact_uri(tracking.SNAPSHOT_ARTIFACT))
    for split in ("train", "validation"):
        part = snapshot[snapshot["split"] == split].drop(columns=["split"])
        dataset = mlflow.data.from_pandas(part, source=source, targets=LABEL,
                                          name=f"fraud-{split}-{record.window.id}")
        dataset.__dict__["schema"] = dataset_schema(part)  # see dataset_schema
        mlflow.log_input(dataset, context="training" if split == "train" else "validation")


SCHEMA_ROWS = 1000


def dataset_schema(frame: pd.DataFrame) -> Any:
    """The schema `mlflow.data.from_pandas(frame).schema` would infer, from a few rows.

    Why: MLflow infers it by type-checking every value of every string column in Python, which
    took 7 of publish's 25 s with 100k rows of history and grows with the rows. A column's type
    and whether it holds nulls (MLflow's `required`) are all the schema records, so the first
    rows plus the first null row of each column give the same answer. `PandasDataset.schema` is
    a `functools.cached_property`; the caller stores this value in its place.
    """
    nulls = frame.isna()
    first_null = [int(nulls[c].to_numpy().argmax()) for c in frame.columns if nulls[c].any()]
    rows = sorted(set(range(min(len(frame), SCHEMA_ROWS))) | set(first_null))
    return mlflow.data.from_pandas(frame.iloc[rows]).schema


def _http_source(artifact_uri: str) -> str:
    """Where a dataset can be downloaded from: the tracking server's artifact endpoint.

    MLflow's dataset sources do not resolve `mlflow-artifacts:` URIs (the proxied artifact
    store); the same file is served over HTTP by the tracking server, which they do resolve.
    """
    prefix = "mlflow-artifacts:/"
    if not artifact_uri.startswith(prefix):
        return artifact_uri
    base = mlflow.get_tracking_uri().rstrip("/")
    return f"{base}/api/2.0/mlflow-artifacts/artifacts/{artifact_uri.removeprefix(prefix)}"


def _log_model(record: RunRecord, model: Any) -> str:
    valid = record.frame[record.frame["split"] == "validation"]
    return log_sklearn_model(model, valid[record.features].dropna().head(5))


def _register(record: RunRecord, client: Any, settings: Settings, run_id: str,
              model_uri: str) -> tuple[str, dict[str, str]]:
    name = settings.registered_model
    version = tracking.version_of_run(client, name, run_id)
    if version is None:
        version = mlflow.register_model(model_uri, name, tags={
            tracking.INTERVAL_TAG: record.window.id, tracking.GATE_TAG: "passed",
            tracking.CANDIDATE_TAG: record.candidate})
    number = str(version.version)
    client.set_registered_model_alias(name, tracking.CHALLENGER, number)
    aliases = {tracking.CHALLENGER: number}
    if settings.train_bootstrap_champion and tracking.alias_version(
            client, name, tracking.CHAMPION) is None:
        client.set_registered_model_alias(name, tracking.CHAMPION, number)
        client.set_model_version_tag(name, number, tracking.PROMOTED_BY_TAG, "bootstrap")
        aliases[tracking.CHAMPION] = number
    return number, aliases


def publish(settings: Settings, record: RunRecord) -> Published:
    """Log the run (params, metrics, plots, data, model); register it if the gate passed."""
    client = tracking.client(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    experiment = tracking.experiment_id(client, settings)
    unfinished = [r for r in tracking.runs_for_interval(client, settings, record.window.id)
                  if r.info.status != "FINISHED"]
    resume = unfinished[0].info.run_id if unfinished else None
    model = next(t.model for t in record.trained if t.name == record.candidate)
    passed = bool(record.gate["passed"])
    with mlflow.start_run(run_id=resume, experiment_id=experiment,
                          run_name=f"fraud {record.window.id}") as run:
        run_id = run.info.run_id
        revision = tracking.git_revision()
        mlflow.set_tags({
            tracking.INTERVAL_TAG: record.window.id,
            tracking.AIRFLOW_RUN_TAG: record.airflow_run_id,
            tracking.FEATURE_SERVICE_TAG: record.feature_service,
            tracking.CANDIDATE_TAG: record.candidate, tracking.GIT_TAG: revision,
            "mlflow.source.git.commit": revision.removesuffix("+dirty"),
            "dojo.compared_with_champion": (record.champion or {}).get("version") or "none",
        })
        existing = tracking.version_of_run(client, settings.registered_model, run_id)
        if existing is None:  # a retry after registration skips straight to the aliases
            chosen = next(t for t in record.trained if t.name == record.candidate)
            mlflow.log_params({**record.params, **record.window.to_dict(), **chosen.params,
                               "feature_service": record.feature_service,
                               "features": ",".join(record.features),
                               "candidate": record.candidate})
            mlflow.log_metrics(_run_metrics(record))
            for name, report in record.reports.items():
                mlflow.log_dict(report, f"reports/{name}.json")
            mlflow.log_dict(record.gate, "reports/gates.json")
            mlflow.log_dict({"segments": record.evaluations[record.candidate]["segments"]},
                            "reports/segments.json")
            _log_children(record, client, run_id, experiment)
            with compute_threads():
                _log_figures(record, model)
            _log_data(record)
            model_uri = _log_model(record, model)
        else:
            model_uri = existing.source
        reasons = [c["message"] for c in record.gate["checks"] if not c["passed"]]
        mlflow.set_tags({tracking.GATE_TAG: "passed" if passed else "failed",
                         tracking.GATE_REASON_TAG: "; ".join(reasons)[:4000] or "all gates passed"})
        if not passed:
            return Published(run_id, None, {})
        version, aliases = _register(record, client, settings, run_id, model_uri)
        mlflow.set_tag("dojo.registered_version", version)
    return Published(run_id, version, aliases)


def _run_metrics(record: RunRecord) -> dict[str, float]:
    evaluation = record.evaluations[record.candidate]
    frame = record.frame
    metrics = {**evaluation["metrics"]}
    for split in ("train", "validation"):
        part = frame[frame["split"] == split]
        metrics[f"rows_{split}"] = float(len(part))
        metrics[f"positives_{split}"] = float(part[LABEL].sum())
    for key in ("rows", "labelled_rows", "duplicate_ids"):
        if key in record.reports.get("validation", {}):
            metrics[f"data_{key}"] = float(record.reports["validation"][key])
    for segment in evaluation["segments"]:
        if segment["recall"] is not None:
            metrics[f"segment_recall_{segment['segment']}"] = float(segment["recall"])
    champion = record.champion or {}
    for key, name in (("pr_auc", "champion_pr_auc"), ("roc_auc", "champion_roc_auc"),
                      ("candidate_pr_auc", "candidate_pr_auc_vs_champion")):
        if champion.get(key) is not None:
            metrics[name] = float(champion[key])  # both on the same unseen validation rows
    return metrics

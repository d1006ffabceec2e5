"""The reference the window is compared with: the champion's training snapshot, from MLflow.

Why the champion's own snapshot: drift only matters relative to what the serving model
learned from. The training DAG logs the rows it trained and validated on as
`data/training_snapshot.parquet` on the version's run (dojo/training/publish.py). When the
`champion` alias moves, the reference moves with it.

Why the validation split, scored by the champion: those rows are the newest the model was
built on, and its scores on rows it never fitted are what its live scores should look like
(scores on its own training rows are over-confident, which would read as prediction drift).

Everything derived (the sample Evidently compares with, the profile for PSI and quality, the
training metrics) is computed once per champion version and cached under
`$DOJO_HOME/monitor/reference/v<N>/`, so a restart does not download or score again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import structlog

from dojo.monitoring.profile import Profile, build_profile
from dojo.settings import Settings
from dojo.training import tracking
from dojo.training.dataset import CATEGORICAL, LABEL

log = structlog.get_logger(__name__)

SAMPLE_FILE, META_FILE = "sample.parquet", "reference.json"
SCORE, TARGET = "score", LABEL
# Training metrics the monitor compares live performance with (logged by the DAG).
TRAINING_METRICS = ("pr_auc", "recall_at_precision", "precision_at_threshold", "threshold")


@dataclass
class Reference:
    """The reference side of every drift check for one champion version."""

    version: str
    run_id: str
    features: list[str]
    categorical: list[str]
    sample: pd.DataFrame  # features + score + label, at most monitor_reference_rows
    profile: Profile  # from every validation row, not only the sample
    training_metrics: dict[str, float]

    @property
    def numeric(self) -> list[str]:
        return [f for f in self.features if f not in self.categorical]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.sample.to_parquet(directory / SAMPLE_FILE, index=False)
        meta = {"version": self.version, "run_id": self.run_id, "features": self.features,
                "categorical": self.categorical, "profile": self.profile.to_dict(),
                "training_metrics": self.training_metrics}
        (directory / META_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path) -> Reference:
        meta = json.loads((directory / META_FILE).read_text())
        return cls(meta["version"], meta["run_id"], meta["features"], meta["categorical"],
                   pd.read_parquet(directory / SAMPLE_FILE), Profile.from_dict(meta["profile"]),
                   meta["training_metrics"])


def build_reference(version: str, run_id: str, frame: pd.DataFrame, features: list[str],
                    scores: np.ndarray, training_metrics: dict[str, float],
                    sample_rows: int, seed: int = 0) -> Reference:
    """Reference from scored validation rows: the profile from all, a seeded sample for
    Evidently (it recomputes its reference side every run, so its cost grows with it)."""
    categorical = [c for c in features if c in CATEGORICAL]
    numeric = [c for c in features if c not in categorical]
    scored = frame[features].copy()
    scored[SCORE] = scores
    if TARGET in frame:
        scored[TARGET] = frame[TARGET].astype(float).to_numpy()
    profile = build_profile(scored, [*numeric, SCORE], categorical)
    sample = scored.sample(n=min(sample_rows, len(scored)), random_state=seed) \
        .reset_index(drop=True)
    return Reference(version, run_id, features, categorical, sample, profile, training_metrics)


def cache_dir(settings: Settings, version: str) -> Path:
    return settings.home / "monitor" / "reference" / f"v{version}"


def champion_version(settings: Settings) -> str | None:
    """The version the champion alias points at now (None: no champion yet)."""
    return tracking.alias_version(tracking.client(settings), settings.registered_model,
                                  tracking.CHAMPION)


def load_champion_reference(settings: Settings, version: str) -> Reference:
    """The reference of one registered version: from the cache, else built from MLflow."""
    directory = cache_dir(settings, version)
    if (directory / META_FILE).exists():
        return Reference.load(directory)
    reference = _from_mlflow(settings, version)
    reference.save(directory)
    log.info("monitor.reference_built", version=version, rows=len(reference.sample),
             features=len(reference.features))
    return reference


def _from_mlflow(settings: Settings, version: str) -> Reference:
    import mlflow

    client = tracking.client(settings)
    found = client.get_model_version(settings.registered_model, version)
    run = client.get_run(found.run_id)
    mlflow.set_tracking_uri(settings.tracking_uri)
    local = mlflow.artifacts.download_artifacts(run_id=found.run_id,
                                                artifact_path=tracking.SNAPSHOT_ARTIFACT)
    snapshot = pd.read_parquet(local)
    with tracking.quiet_skops():
        model = mlflow.pyfunc.load_model(f"models:/{settings.registered_model}/{version}")
    features = list(model.metadata.get_input_schema().input_names())
    valid = snapshot[snapshot["split"] == "validation"] if "split" in snapshot else snapshot
    prediction = np.asarray(model.predict(valid[features]))
    scores = prediction[:, 1] if prediction.ndim == 2 else prediction
    metrics = {k: float(v) for k, v in run.data.metrics.items() if k in TRAINING_METRICS}
    return build_reference(version, found.run_id, valid, features, scores, metrics,
                           settings.monitor_reference_rows)


def describe(reference: Reference | None) -> dict[str, Any]:
    if reference is None:
        return {"version": None}
    return {"version": reference.version, "run_id": reference.run_id,
            "rows": len(reference.sample), "features": len(reference.features)}

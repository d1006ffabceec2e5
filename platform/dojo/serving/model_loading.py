"""Load one registered model version, ready to score: the pipeline, its columns, its threshold.

Why unwrap the pyfunc: `mlflow.pyfunc` re-checks the input schema and converts types on every
call, which costs more than the model itself on one row. The server does that work once, here:
it reads the signature, refuses a version whose inputs it cannot supply, and plans which
column comes from the features and which from the request. A request then only builds arrays.

Why skops only: a pickled model runs arbitrary code when loaded. Training logs skops with an
explicit list of trusted types (dojo/training/model_logging.py); MLflow stores that list in
the version's MLmodel file and loads with it, so the server trusts what training reviewed
and nothing else.

Why compare library versions: MLflow records the scikit-learn version that saved a model
(`sklearn_version` in the MLmodel file). A model saved by another minor release may load and
then fail or, worse, score differently (estimator internals change between minor releases;
scikit-learn itself warns that it supports no such load). The server refuses a version saved
with another major.minor than it runs, and keeps serving what it has (`check_library_version`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import structlog

from dojo.contracts import TRANSACTION_FIELDS

log = structlog.get_logger(__name__)

THRESHOLD_METRIC = "threshold"
STRING_TYPES = {"string", "str"}


class ModelLoadError(RuntimeError):
    """A version cannot be served; the message says why (shown by /ready and /model)."""


@dataclass(frozen=True)
class LoadedModel:
    """A fully loaded version. Immutable: a reload builds a new one and swaps the reference."""

    name: str
    version: str
    predictor: Any  # fitted scikit-learn estimator with predict_proba
    columns: tuple[str, ...]
    text_columns: frozenset[str]  # the rest are numeric (float64, None -> NaN)
    threshold: float
    size_bytes: int
    run_id: str = ""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_seconds: float = 0.0

    def frame(self, columns: dict[str, list[Any]]) -> pd.DataFrame:
        """The model's input frame from column lists (numeric ones as float64 arrays)."""
        data = {}
        for name in self.columns:
            values = columns[name]
            data[name] = (np.asarray(values, dtype=object) if name in self.text_columns
                          else np.asarray(values, dtype=np.float64))
        return pd.DataFrame(data, columns=list(self.columns), copy=False)

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """P(fraud) per row."""
        return np.asarray(self.predictor.predict_proba(frame))[:, 1]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id,
                "threshold": self.threshold, "columns": list(self.columns),
                "size_bytes": self.size_bytes, "loaded_at": self.loaded_at.isoformat(),
                "load_seconds": round(self.load_seconds, 3)}


def check_columns(columns: tuple[str, ...], feature_names: set[str]) -> None:
    """Refuse a model that needs a column neither the features nor the request provide."""
    missing = [c for c in columns if c not in feature_names and c not in TRANSACTION_FIELDS]
    if missing:
        raise ModelLoadError(f"the model needs {missing}, which neither the fraud_model "
                             "features nor the request provide")


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def check_library_version(name: str, version: str, logged: str | None,
                          installed: str | None = None) -> None:
    """Refuse a model saved with another scikit-learn major.minor than this process runs.

    ``logged`` is the MLmodel file's `sklearn_version` (None: a model logged without it, which
    is loaded as before). A different patch release (1.9.0 vs 1.9.1) is accepted: scikit-learn
    keeps its pickled estimators compatible within a minor release. The refusal is logged
    with both versions and raised as ModelLoadError, which the alias watcher reports in /model
    and counts as a failed reload, while the server keeps the model it has.
    """
    if not logged:
        return
    if installed is None:
        import sklearn

        installed = sklearn.__version__
    if _major_minor(logged) != _major_minor(installed):
        log.warning("serving.library_version_skew", model=name, version=version,
                    logged_sklearn=logged, installed_sklearn=installed)
        raise ModelLoadError(
            f"{name} v{version} was saved with scikit-learn {logged}; this server runs "
            f"scikit-learn {installed}: refusing another major.minor (serve it where the "
            "versions match, or retrain it with this one)")


def _directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def load_version(tracking_uri: str, name: str, version: str,
                 default_threshold: float) -> LoadedModel:
    """Download ``name`` v``version`` from the registry and load it (skops, trusted types)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import Model

    started = time.perf_counter()
    # The `models:/` artifact repository builds its own client from the process-wide URIs,
    # whatever `download_artifacts(tracking_uri=...)` says; unset, MLflow 3 falls back to a
    # local SQLite store (which needs the server's packages, absent from the image).
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    found = client.get_model_version(name, version)
    threshold = default_threshold
    if found.run_id:
        logged = client.get_run(found.run_id).data.metrics.get(THRESHOLD_METRIC)
        if logged is not None and 0.0 < logged < 1.0:
            threshold = float(logged)
    with tempfile.TemporaryDirectory(prefix="dojo-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp, tracking_uri=tracking_uri))
        metadata = Model.load(str(local))
        flavor = metadata.flavors.get("sklearn", {})
        if flavor.get("serialization_format") != "skops":
            raise ModelLoadError(
                f"{name} v{version} is not a skops model (format "
                f"{flavor.get('serialization_format')!r}); the server loads no pickles")
        check_library_version(name, str(version), flavor.get("sklearn_version"))
        schema = metadata.get_input_schema()
        if schema is None:
            raise ModelLoadError(f"{name} v{version} has no input signature")
        predictor = mlflow.sklearn.load_model(str(local))
        size = _directory_bytes(local)
    columns = tuple(schema.input_names())
    text = frozenset(spec.name for spec in schema.inputs
                     if str(getattr(spec.type, "name", spec.type)).lower() in STRING_TYPES)
    return LoadedModel(name=name, version=str(version), predictor=predictor, columns=columns,
                       text_columns=text, threshold=threshold, size_bytes=size,
                       run_id=found.run_id or "", load_seconds=time.perf_counter() - started)

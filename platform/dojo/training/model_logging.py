"""Log a scikit-learn pipeline as an MLflow model: skops format, signature, input example.

Why one helper for the DAG and the algorithm sweep: a model logged by either is loaded the
same way (`mlflow.pyfunc.load_model`), so both must agree on the format, the trusted types
and the pinned requirements.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from dojo.training import tracking

# skops (MLflow's safe format, unlike pickle) refuses types it has not been told to trust.
# These were reviewed for the pipelines here: the trees of HistGradientBoosting (and the
# validation helper it keeps as a partial) and of the random forest, and numpy dtypes in the
# encoders. Our own models, our own files.
SKOPS_TRUSTED_TYPES = [
    "numpy.dtype", "functools.partial", "sklearn.utils.validation.check_array",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
]
# Pinned to what trained the model. Listing them skips MLflow's requirement inference, which
# re-loads the model in a subprocess (measured: 9 s -> 2 s per log_model).
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "scipy", "pandas")


def requirements() -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in MODEL_REQUIREMENTS]


def log_sklearn_model(model: Any, example: pd.DataFrame) -> str:
    """Log ``model`` under the active run as `model`; returns its model URI.

    pyfunc `predict` returns `predict_proba` ([[P(legit), P(fraud)], ...]): a fraud score
    needs the probability, not the 0/1 class.
    """
    signature = infer_signature(example, model.predict_proba(example))
    with tracking.quiet_skops():
        info = mlflow.sklearn.log_model(
            model, name="model", signature=signature, input_example=example,
            pyfunc_predict_fn="predict_proba",
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=SKOPS_TRUSTED_TYPES, pip_requirements=requirements(),
        )
    return info.model_uri

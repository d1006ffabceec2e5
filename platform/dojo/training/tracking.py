"""MLflow access for training: reach the server, find a run by its interval, the champion.

Why a preflight health check: the MLflow client retries a refused connection with backoff
for minutes before it raises, so a task would sit silently while the tracking server is down.
One short request first turns that into a `DependencyDown` naming the server, which Airflow
retries on its own schedule.
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from dojo.settings import REPO_ROOT, Settings
from dojo.training.errors import DependencyDown

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

# Tags that make runs and versions findable and explainable.
INTERVAL_TAG = "dojo.data_interval"
GATE_TAG = "dojo.gate"  # passed | failed
GATE_REASON_TAG = "dojo.gate_reason"
CANDIDATE_TAG = "dojo.candidate"
FEATURE_SERVICE_TAG = "dojo.feature_service"
GIT_TAG = "dojo.git_sha"
AIRFLOW_RUN_TAG = "dojo.airflow_run_id"
PREVIOUS_CHAMPION_TAG = "dojo.previous_champion"
PROMOTED_BY_TAG = "dojo.promoted_by"
CHAMPION, CHALLENGER, PREVIOUS_CHAMPION = "champion", "challenger", "previous-champion"
# The drift monitor's reference data: the training rows of the version being served.
SNAPSHOT_ARTIFACT = "data/training_snapshot.parquet"


def require_mlflow(settings: Settings) -> None:
    """Raise DependencyDown unless the tracking server answers its health endpoint."""
    url = f"{settings.tracking_uri}/health"
    try:
        response = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as error:
        raise DependencyDown("MLflow tracking server", settings.tracking_uri,
                             type(error).__name__,
                             hint="check `dojo status` and `dojo logs mlflow`") from error
    if response.status_code != 200:
        raise DependencyDown("MLflow tracking server", settings.tracking_uri,
                             f"/health answered {response.status_code}",
                             hint="check `dojo logs mlflow`")


def client(settings: Settings) -> MlflowClient:
    """A client for tracking and registry, after the preflight check."""
    from mlflow import MlflowClient

    require_mlflow(settings)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def experiment_id(mlflow_client: MlflowClient, settings: Settings) -> str:
    """The training experiment's id, created on first use."""
    experiment = mlflow_client.get_experiment_by_name(settings.train_experiment)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow_client.create_experiment(settings.train_experiment)


def runs_for_interval(
    mlflow_client: MlflowClient, settings: Settings, interval_id: str, status: str | None = None
) -> list[Run]:
    """Top-level runs tagged with this data interval, newest first."""
    experiment = mlflow_client.get_experiment_by_name(settings.train_experiment)
    if experiment is None:
        return []
    query = f"tags.`{INTERVAL_TAG}` = '{interval_id}'"  # only parent runs carry this tag
    if status:
        query += f" and attributes.status = '{status}'"
    return list(mlflow_client.search_runs([experiment.experiment_id], query,
                                          order_by=["attributes.start_time DESC"]))


def version_of_run(mlflow_client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The registered version created from this run, if any (registration is idempotent)."""
    found = mlflow_client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    return found[0] if found else None


def alias_version(mlflow_client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias (or the model) does not exist.

    Only the registry's "does not exist" answers mean no alias. Any other error (a 500, a
    timeout) raises DependencyDown naming the registry: read as "no champion", it would crown
    a new version without the champion comparison.
    """
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_model_version_by_alias(name, alias).version
    except MlflowException as error:
        if _absent(error):
            return None
        raise DependencyDown(
            "MLflow model registry", mlflow_client.tracking_uri,
            f"reading alias {alias!r} of {name!r} failed: {error.error_code}: "
            f"{str(error.message)[:200]}",
            hint="the alias is unknown, so nothing was promoted; retry when the registry answers",
        ) from error


def _absent(error: Exception) -> bool:
    """MLflow's answers for a missing model (RESOURCE_DOES_NOT_EXIST) or a missing alias
    (INVALID_PARAMETER_VALUE, "Registered model alias ... not found")."""
    code = getattr(error, "error_code", "")
    message = str(getattr(error, "message", error))
    return code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "alias" in message and "not found" in message)


@contextmanager
def quiet_skops() -> Iterator[None]:
    """Silence skops' module scan while a model is saved or loaded: inside an Airflow worker
    it touches every moved Airflow attribute and logs ~1,000 FutureWarnings each time."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"skops\.")
        yield


def git_revision() -> str:
    """The checkout's commit, with '+dirty' when the tree has uncommitted changes."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                                text=True, timeout=10, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    sha = git("rev-parse", "HEAD")
    if not sha:
        return "unknown"
    return f"{sha}+dirty" if git("status", "--porcelain", "--untracked-files=no") else sha

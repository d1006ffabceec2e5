"""Shared by the drills that put a different version behind the `champion` alias.

Why shared: "a version that should not serve went out" is one mechanism (register a version,
force it past the gates, the server hot-loads it, the fix is `dojo model rollback`) behind
several faults: wrong scores (`bad-model-promoted`), a slow model (`latency-regression`), a
model saved by another library version (`library-version-skew`). Only the version differs.

What it does for those drills:
- fits small models in seconds on the generator's rows, as the server presents a request with
  no online history (the first-transaction features, which is how it scores the deploy's smoke
  rows), and registers them through MLflow (skops, as training logs them);
- makes sure a healthy champion serves before the fault: a fresh stack has none, and training
  one through Airflow takes minutes, so the drill registers a small good one itself;
- remembers the registry's aliases before the fault (``<state_dir>/<drill>.registry.json``) so
  ``reset`` puts them back and deletes the versions the drill registered. The file only steers
  the reset; no check reads it.

The leading underscore keeps the registry from treating this module as a drill.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dojo.teaching.drills.base import Check, DrillContext, DrillError

# The runbook's fix for a bad champion: put the previous one back, then make the server load it
# now (it would pick it up at its next alias poll anyway).
ROLLBACK_AND_RELOAD: tuple[str, ...] = (
    "dojo model rollback",
    'curl -sS -X POST -H "Authorization: Bearer ${DOJO_SERVING_ADMIN_TOKEN}" '
    '"http://${DOJO_HOST}:${DOJO_SERVING_PORT}/admin/reload"',
)


if TYPE_CHECKING:
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

    from dojo.delivery.server_api import ServerApi

EXPERIMENT = "dojo-drills"
TRAINING_ROWS = 3000
TRAINING_SEED = 11
# Long enough for a poll of the server (DOJO_SERVING_ALIAS_POLL_S) and a model download.
SERVED_DEADLINE_S = 120.0


# ---------------------------------------------------------------------- models
def training_frame(rows: int = TRAINING_ROWS, seed: int = TRAINING_SEED) -> tuple[Any, Any]:
    """(features, is_fraud) of generated rows, as the server presents requests from users with
    no online row: the columns and first-transaction defaults it scores the smoke rows with."""
    import pandas as pd

    from dojo.contracts import TRANSACTION_FIELDS, Transaction
    from dojo.serving.degraded import first_transaction_features
    from dojo.serving.online_features import SERVICE_FEATURES
    from dojo.synthetic.generator import generate_live

    numeric, text = [*SERVICE_FEATURES, "amount"], ["channel", "merchant_category"]
    generated = generate_live(rows, seed, fraud_rate=0.3)
    records = []
    for record in generated[list(TRANSACTION_FIELDS)].to_dict("records"):
        transaction = Transaction(**{**record, "ts": record["ts"].isoformat()})
        features = first_transaction_features(transaction)
        records.append({c: features.get(c, getattr(transaction, c, None))
                        for c in [*numeric, *text]})
    frame = pd.DataFrame(records)[[*numeric, *text]].astype(dict.fromkeys(numeric, float))
    return frame, generated["is_fraud"].to_numpy()


def pipeline(classifier: Any, frame: Any) -> Pipeline:
    """The platform's preprocessing (numbers as they come, categories one-hot) + ``classifier``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    text = ["channel", "merchant_category"]
    numeric = [c for c in frame.columns if c not in text]
    return Pipeline([
        ("prep", ColumnTransformer([
            ("num", SimpleImputer(strategy="constant", fill_value=-1.0,
                                  keep_empty_features=True), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), text),
        ])),
        ("clf", classifier),
    ])


def good_model() -> Pipeline:
    """What a healthy champion does on these rows: ROC AUC about 0.97 on the smoke rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, labels = training_frame()
    return pipeline(HistGradientBoostingClassifier(max_iter=50, random_state=0),
                    frame).fit(frame, labels)


# ---------------------------------------------------------------------- registry
def registry_client(ctx: DrillContext) -> MlflowClient:
    from dojo.training.errors import DependencyDown
    from dojo.training.tracking import client

    try:
        return client(ctx.settings)
    except DependencyDown as error:
        raise DrillError(f"the registry is not reachable: {error}") from None


def evaluate(model: Pipeline) -> dict[str, float]:
    """The metrics a training run logs, on fresh rows of the same generator: ROC AUC, PR AUC
    and the p95 latency of a one-row predict (what `dojo model list` shows)."""
    import time

    import numpy as np
    from sklearn.metrics import average_precision_score, roc_auc_score

    frame, labels = training_frame(rows=600, seed=TRAINING_SEED + 1)
    scores = model.predict_proba(frame)[:, 1]
    one = frame.head(1)
    model.predict_proba(one)
    timings = []
    for _ in range(10):
        started = time.perf_counter()
        model.predict_proba(one)
        timings.append((time.perf_counter() - started) * 1000)
    return {"roc_auc": float(roc_auc_score(labels, scores)),
            "pr_auc": float(average_precision_score(labels, scores)),
            "latency_p95_ms": float(np.percentile(timings, 95))}


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow logs a line per run and per version ("View run at ...", "Waiting up to 300
    seconds ..."): noise in a drill's output."""
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def register(ctx: DrillContext, model: Pipeline, tags: dict[str, str],
             edit_model_dir: Callable[[Path], None] | None = None) -> str:
    """Log ``model`` (skops, signature, threshold 0.5, its metrics) in the drills' experiment
    and register it as a new version of the served model with ``tags`` (their values may name
    the metrics: "roc_auc {roc_auc:.2f}"); returns the version.
    ``edit_model_dir`` may change the saved files before they are uploaded (a drill that
    fakes their metadata)."""
    import tempfile

    import mlflow

    from dojo.serving.model_loading import THRESHOLD_METRIC
    from dojo.training.model_logging import log_sklearn_model
    from dojo.training.tracking import quiet_skops

    client = registry_client(ctx)
    uri = ctx.settings.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    experiment = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    frame, _ = training_frame(rows=5, seed=1)
    metrics = {THRESHOLD_METRIC: 0.5, **evaluate(model)}
    with _quiet_mlflow(), mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metrics(metrics)
        if edit_model_dir is None:
            model_uri = log_sklearn_model(model, frame)
        else:
            from mlflow.models import infer_signature

            from dojo.training.model_logging import SKOPS_TRUSTED_TYPES, requirements

            with tempfile.TemporaryDirectory(prefix="dojo-drill-") as tmp, quiet_skops():
                path = Path(tmp) / "model"
                mlflow.sklearn.save_model(
                    model, str(path), signature=infer_signature(frame, model.predict_proba(frame)),
                    pyfunc_predict_fn="predict_proba",
                    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                    skops_trusted_types=SKOPS_TRUSTED_TYPES, pip_requirements=requirements())
                edit_model_dir(path)
                mlflow.log_artifacts(str(path), "model")
            model_uri = f"runs:/{run.info.run_id}/model"
    name = ctx.settings.registered_model
    if not _model_exists(client, name):
        client.create_registered_model(name)
    # The client call (not `mlflow.register_model`, which looks the logged model up in the
    # process-wide store): with the logged model's id, as `dojo model register` does.
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/") else None
    with _quiet_mlflow():
        version = client.create_model_version(
            name, model_uri, run.info.run_id, model_id=model_id,
            tags={key: value.format(**metrics) for key, value in tags.items()})
    return str(version.version)


@dataclass
class RegistryBefore:
    """The aliases before the drill and the versions it registered since (for ``reset``)."""

    model_existed: bool
    champion: str | None
    previous_champion: str | None
    created: list[str] = field(default_factory=list)


def _model_exists(client: MlflowClient, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True


def _before_file(ctx: DrillContext, drill: str) -> Path:
    return ctx.state_dir / f"{drill}.registry.json"


def remember_registry(ctx: DrillContext, drill: str) -> RegistryBefore:
    """Record the aliases now (an earlier record, from a start that failed, is kept)."""
    earlier = load_before(ctx, drill)
    if earlier is not None:
        return earlier
    from dojo.training.tracking import CHAMPION, PREVIOUS_CHAMPION, alias_version

    client = registry_client(ctx)
    name = ctx.settings.registered_model
    existed = _model_exists(client, name)
    before = RegistryBefore(existed,
                            alias_version(client, name, CHAMPION) if existed else None,
                            alias_version(client, name, PREVIOUS_CHAMPION) if existed else None)
    save_before(ctx, drill, before)
    return before


def save_before(ctx: DrillContext, drill: str, before: RegistryBefore) -> None:
    path = _before_file(ctx, drill)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(before), indent=2) + "\n", encoding="utf-8")


def load_before(ctx: DrillContext, drill: str) -> RegistryBefore | None:
    try:
        data = json.loads(_before_file(ctx, drill).read_text(encoding="utf-8"))
        return RegistryBefore(**data)
    except (OSError, ValueError, TypeError):
        return None


def register_for_drill(ctx: DrillContext, drill: str, model: Pipeline, tags: dict[str, str],
                       edit_model_dir: Callable[[Path], None] | None = None) -> str:
    """``register``, and remember the version so ``reset`` deletes it."""
    before = load_before(ctx, drill) or remember_registry(ctx, drill)
    version = register(ctx, model, tags, edit_model_dir)
    before.created.append(version)
    save_before(ctx, drill, before)
    return version


# ---------------------------------------------------------------------- the server
def server(ctx: DrillContext) -> ServerApi:
    from dojo.delivery.server_api import ServerApi

    return ServerApi(f"http://{ctx.settings.host}:{ctx.settings.serving_port}",
                     ctx.settings.serving_admin_token)


def served_champion(ctx: DrillContext) -> tuple[str | None, str | None]:
    """(version the server serves as champion, its problem), from its /model."""
    from dojo.delivery.server_api import ServerError

    with server(ctx) as api:
        try:
            served = api.served()
        except ServerError as error:
            return None, str(error)
    return served.champion, served.problem


def wait_served(ctx: DrillContext, version: str, deadline_s: float = SERVED_DEADLINE_S) -> None:
    """Until the server serves ``version`` as champion (it polls the alias on its own)."""
    def probe() -> Check:
        served, problem = served_champion(ctx)
        return Check(served == version,
                     f"serving v{served}" + (f" ({problem})" if problem else ""))

    ctx.wait_for(probe, deadline_s, what=f"the model server (to serve v{version})")


def ensure_champion(ctx: DrillContext, drill: str) -> str:
    """The champion the server serves; registers and promotes a small good model if the
    registry has none (a fresh stack), and waits until the server serves it."""
    from dojo.training.registry import promote
    from dojo.training.tracking import CHAMPION, GATE_TAG, alias_version

    healthy = ctx.health("model-server")
    if not healthy.ok:
        raise DrillError(f"the model server is not healthy before the drill: {healthy.detail}")
    remember_registry(ctx, drill)
    client = registry_client(ctx)
    name = ctx.settings.registered_model
    champion = alias_version(client, name, CHAMPION)
    if champion is None:
        champion = register_for_drill(ctx, drill, good_model(), {GATE_TAG: "passed"})
        promote(client, name, champion, force=True)
    wait_served(ctx, champion)
    return champion


def force_champion(ctx: DrillContext, version: str) -> None:
    """What a careless release does: `dojo model promote VERSION --force`, past the gates
    (the alias moves; the replaced champion is recorded, so a rollback can find it)."""
    from dojo.training.registry import promote

    promote(registry_client(ctx), ctx.settings.registered_model, version, force=True)


def restore_registry(ctx: DrillContext, drill: str) -> None:
    """Aliases as before the drill, the drill's versions deleted, and the server serving the
    champion of before (restarted when there was none, so it forgets the deleted one)."""
    from mlflow.exceptions import MlflowException

    from dojo.delivery.server_api import ServerError
    from dojo.training.tracking import CHAMPION, PREVIOUS_CHAMPION

    before = load_before(ctx, drill)
    if before is None:
        return
    ctx.stack().up()
    ctx.wait_for(lambda: ctx.health("mlflow"), what="mlflow")
    client = registry_client(ctx)
    name = ctx.settings.registered_model
    if before.champion:
        client.set_registered_model_alias(name, CHAMPION, before.champion)
    if before.previous_champion:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, before.previous_champion)
    # Each may be gone already (the learner deleted it, an earlier reset did): fine.
    for version in before.created:
        with contextlib.suppress(MlflowException):
            client.delete_model_version(name, version)
    if not before.previous_champion:
        with contextlib.suppress(MlflowException):
            client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
    if not before.model_existed:
        with contextlib.suppress(MlflowException):
            client.delete_registered_model(name)
    stack = ctx.stack()
    ctx.wait_for(lambda: ctx.health("model-server"), what="model-server")
    if before.champion:
        with server(ctx) as api, contextlib.suppress(ServerError):
            api.reload()  # now rather than at the next poll; waited for below either way
        wait_served(ctx, before.champion)
    elif before.created:
        stack.restart("model-server")  # it would serve the deleted version until restarted
    _before_file(ctx, drill).unlink(missing_ok=True)

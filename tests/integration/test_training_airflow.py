"""`dojo train` against the session stack's real Airflow: a backfill registers versions with
everything logged; asking for a trained interval again creates nothing new.

The stack's scheduler runs the tasks with the stack's settings, so the history goes into the
stack's own offline store, on dates no other test writes (May 2025).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import mlflow
import numpy as np
import pytest
import typer
from mlflow import MlflowClient
from typer.testing import CliRunner

from dojo.cli.train import DAG_ID, train
from dojo.ingestion.offline_store import write_transactions
from dojo.settings import Settings
from dojo.synthetic.generator import generate_history
from dojo.training import tracking
from dojo.training.airflow_api import AirflowApi

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FIRST, LAST = datetime(2025, 5, 18, tzinfo=UTC), datetime(2025, 5, 21, tzinfo=UTC)
DAYS = ["2025-05-18", "2025-05-19", "2025-05-20"]  # the three daily intervals in [FIRST, LAST)


def _invoke(*args: str) -> str:
    app = typer.Typer()
    app.command()(train)
    result = CliRunner().invoke(app, list(args), catch_exceptions=False,
                                env={"COLUMNS": "200"})
    assert result.exit_code in (0, 1), result.output
    return f"exit={result.exit_code}\n{result.output}"


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(settings.tracking_uri, registry_uri=settings.tracking_uri)


def _interval_runs(settings: Settings) -> dict[str, list]:
    client = _client(settings)
    return {day: tracking.runs_for_interval(
        client, settings, f"{day}T0000_{(date.fromisoformat(day) + timedelta(days=1))}T0000")
        for day in DAYS}


@pytest.fixture(scope="module")
def backfilled(local_stack: Settings) -> tuple[Settings, str]:
    frame = generate_history(rows=24_000, days=21, seed=3, start_date=date(2025, 5, 1))
    write_transactions(frame, local_stack.offline_dir)
    output = _invoke("--start", f"{FIRST:%Y-%m-%d}", "--end", f"{LAST:%Y-%m-%d}", "--backfill",
                     "--timeout", "900")
    return local_stack, output


def test_backfill_of_three_intervals_makes_three_runs(
    healthy_stack: Settings, backfilled: tuple[Settings, str]
) -> None:
    settings, output = backfilled
    assert "3 daily interval(s)" in output and "3 new run(s)" in output, output
    with AirflowApi(settings) as api:
        runs = api.runs(DAG_ID, FIRST - timedelta(days=3), LAST + timedelta(days=3),
                        run_type="backfill")
        assert [r["data_interval_start"][:10] for r in runs] == DAYS
        for run in runs:
            if run["state"] == "failed":  # only a refused model may fail a backfilled day
                tasks = {t["task_id"]: t["state"]
                         for t in api.task_instances(DAG_ID, run["dag_run_id"])}
                assert tasks["publish"] == "failed" and tasks["gate"] == "success", tasks
            else:
                assert run["state"] == "success", run
    per_interval = _interval_runs(settings)
    assert all(len(found) == 1 for found in per_interval.values()), per_interval
    assert all(found[0].info.status == "FINISHED" for found in per_interval.values())
    assert "registered version" in output


def test_a_registered_version_has_everything_logged(
    healthy_stack: Settings, backfilled: tuple[Settings, str]
) -> None:
    settings, _ = backfilled
    client, name = _client(settings), settings.registered_model
    first = _interval_runs(settings)[DAYS[0]][0]  # no champion before it: always registered
    version = tracking.version_of_run(client, name, first.info.run_id)
    assert version is not None, first.data.tags
    # The first version of an empty registry becomes champion ("bootstrap"). On the shared
    # session stack another test may have made a champion first; then this one is only
    # registered, and nothing else may have promoted it.
    version_tags = client.get_model_version(name, version.version).tags
    assert version_tags.get(tracking.PROMOTED_BY_TAG, "bootstrap") == "bootstrap"
    run = client.get_run(version.run_id)
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags[tracking.INTERVAL_TAG] == "2025-05-18T0000_2025-05-19T0000"
    assert tags[tracking.GATE_TAG] == "passed"
    assert tags[tracking.FEATURE_SERVICE_TAG] == "fraud_model"
    assert tags[tracking.AIRFLOW_RUN_TAG].startswith("backfill__")
    assert tags[tracking.GIT_TAG]
    assert params["interval_start"].startswith("2025-05-18")
    assert params["window_start"].startswith("2025-05-05")
    assert "txn_count_1h" in params["features"] and "gate_min_pr_auc" in params
    for key in ("pr_auc", "roc_auc", "recall_at_precision", "calibration_error", "brier",
                "segment_recall_gap", "latency_p95_ms", "model_mb", "rows_train",
                "rows_validation", "data_labelled_rows"):
        assert key in metrics, key
    assert any(k.startswith("segment_recall_") and k != "segment_recall_gap" for k in metrics)
    files = {a.path for folder in ("plots", "data", "reports")
             for a in client.list_artifacts(run.info.run_id, folder)}
    assert {"plots/roc_pr_curves.png", "plots/confusion_matrix.png", "plots/calibration.png",
            "plots/feature_importance.png", tracking.SNAPSHOT_ARTIFACT,
            "reports/gates.json", "reports/validation.json"} <= files
    assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {"training", "validation"}
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)  # models:/ URIs resolve through the registry
    uri = f"models:/{name}/{version.version}"
    info = mlflow.models.get_model_info(uri)
    assert "amount" in info.signature.inputs.input_names()
    assert info.saved_input_example_info is not None
    model = mlflow.pyfunc.load_model(uri)
    scores = np.asarray(model.predict(model.input_example))
    assert scores.shape[1] == 2 and ((scores >= 0) & (scores <= 1)).all()


def test_same_interval_again_reuses_the_run_and_rerun_trains_nothing_new(
    healthy_stack: Settings, backfilled: tuple[Settings, str]
) -> None:
    settings, _ = backfilled
    client = _client(settings)
    versions = len(client.search_model_versions(f"name='{settings.registered_model}'"))

    again = _invoke("--start", DAYS[-1], "--end", f"{LAST:%Y-%m-%d}", "--timeout", "300")
    assert "a run for this interval exists" in again, again

    rerun = _invoke("--start", DAYS[-1], "--end", f"{LAST:%Y-%m-%d}", "--rerun",
                    "--timeout", "300")
    assert "cleared" in rerun and "already trained" in rerun, rerun
    assert len(client.search_model_versions(f"name='{settings.registered_model}'")) == versions
    assert all(len(found) == 1 for found in _interval_runs(settings).values())

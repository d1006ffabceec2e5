"""Failure paths of the training pipeline against a real MLflow server.

A broken column runs the DAG with `dag.test()` (in a subprocess: Airflow reads its
configuration at import; with a metadata DB of its own); the weak model runs the same step
functions in-process. Data lives in a private DOJO_HOME; MLflow is the session stack's, with a
registered model and experiment of this module's own. The success path, idempotency and
backfills run on the stack's real Airflow in test_training_airflow.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
from mlflow import MlflowClient

from dojo.ingestion.offline_store import write_transactions
from dojo.settings import Settings, load_settings
from dojo.synthetic.generator import generate_history
from dojo.training import pipeline, tracking
from dojo.training.errors import GateFailed

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ROWS, DAYS, START = 24_000, 21, date(2025, 1, 1)
WEAK_END = "2025-01-21"


def _env(settings: Settings, airflow_home: Path) -> dict[str, str]:
    env = {**os.environ, **settings.as_env()}
    env["AIRFLOW_HOME"] = str(airflow_home)
    return env


def run_dag(settings: Settings, airflow_home: Path, end: str, conf: dict | None = None) -> dict:
    """`python -m dojo.training.dagtest`; returns its JSON result plus the full output."""
    result = subprocess.run(
        [sys.executable, "-m", "dojo.training.dagtest", "--end", end,
         "--conf", json.dumps(conf or {}), "--airflow-home", str(airflow_home)],
        env=_env(settings, airflow_home), capture_output=True, text=True, timeout=600,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith('{"state"')]
    assert lines, f"dagtest crashed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return {**json.loads(lines[-1]), "output": result.stdout + result.stderr}


@pytest.fixture(scope="module")
def stack_settings(local_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Private data home, the stack's MLflow, a model name of this module's own."""
    home = tmp_path_factory.mktemp("training")
    frame = generate_history(rows=ROWS, days=DAYS, seed=11, start_date=START)
    settings = load_settings(
        home=home / "dojo", mlflow_tracking_uri=local_stack.tracking_uri,
        registered_model=f"fraud-test-{uuid.uuid4().hex[:6]}",
        train_experiment=f"training-test-{uuid.uuid4().hex[:6]}",
    )
    write_transactions(frame, settings.offline_dir)
    return settings


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("airflow")


@pytest.fixture(autouse=True)
def _stack_is_healthy(healthy_stack: Settings) -> None:
    """Restart whatever an earlier test (a drill) left stopped, before each test."""


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(settings.tracking_uri, registry_uri=settings.tracking_uri)


def test_weak_model_fails_the_gate_and_is_not_promoted(stack_settings: Settings) -> None:
    """Shuffled training labels, run step by step in-process (same functions the DAG calls)."""
    client, name = _client(stack_settings), stack_settings.registered_model
    window = pipeline.resolve(stack_settings, "2025-01-20", WEAK_END)
    for step in (pipeline.check_inputs, pipeline.validate, pipeline.build_training_set,
                 pipeline.split):
        step(stack_settings, window)
    pipeline.train(stack_settings, window, shuffle_labels=True)
    pipeline.evaluate(stack_settings, window)
    decision = pipeline.gate(stack_settings, window)
    assert not decision["passed"]
    with pytest.raises(GateFailed) as caught:
        pipeline.publish(stack_settings, window, airflow_run_id="test")
    assert any("PR-AUC" in reason and "floor" in reason for reason in caught.value.reasons)
    run = client.get_run(caught.value.run_id)
    assert run.data.tags[tracking.GATE_TAG] == "failed"
    assert "floor" in run.data.tags[tracking.GATE_REASON_TAG]
    assert client.search_model_versions(f"name='{name}'") == []  # nothing registered
    assert tracking.alias_version(client, name, "challenger") is None  # nothing promoted
    assert tracking.alias_version(client, name, "champion") is None


def test_broken_column_fails_at_validation_naming_it(
    stack_settings: Settings, airflow_home: Path, tmp_path: Path
) -> None:
    frame = generate_history(rows=12_000, days=DAYS, seed=5, start_date=START)
    frame.loc[frame.index % 11 == 0, "amount"] = -1.0  # a sign bug upstream
    broken = load_settings(**{**stack_settings.model_dump(), "home": tmp_path / "broken"})
    write_transactions(frame, broken.offline_dir)
    result = run_dag(broken, airflow_home, "2025-01-15")
    assert result["state"] == "failed"
    assert result["tasks"]["check_inputs"] == "success"
    assert result["tasks"]["validate"] == "failed"
    assert result["tasks"]["train"] == "upstream_failed"
    assert "column 'amount' failed rule '0 < amount < 1,000,000'" in result["output"]
    assert result["tries"]["validate"] == 1  # bad data is not retried

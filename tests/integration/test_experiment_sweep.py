"""`dojo experiment run|compare` (lab 02) against the session stack's real MLflow.

The sweep reads a private offline store (its own history, Feast tables and registry), logs to
an experiment of its own, and must leave one parent run with a nested run per algorithm, each
with parameters, metrics, a plot and a loadable model.
"""

from __future__ import annotations

import uuid
from datetime import date

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from dojo.cli.experiment import app
from dojo.ingestion.offline_store import write_transactions
from dojo.settings import Settings
from dojo.synthetic.generator import generate_history
from dojo.training.experiment import ALGORITHM_TAG, KIND_TAG

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def sweep(local_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(experiment name, output of `dojo experiment run`) on a home of this module's own."""
    home = tmp_path_factory.mktemp("sweep") / "dojo"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("DOJO_HOME", str(home))
    monkeypatch.setenv("DOJO_MLFLOW_TRACKING_URI", local_stack.tracking_uri)
    write_transactions(generate_history(rows=16_000, days=14, seed=5,
                                        start_date=date(2025, 3, 1)), home / "offline")
    name = f"sweep-test-{uuid.uuid4().hex[:6]}"
    code, out = _run("run", "--end", "2025-03-15", "--days", "14",
                     "--algorithms", "prior,logreg", "--experiment", name)
    assert code == 0, out
    yield name, out
    monkeypatch.undo()


def test_one_nested_run_per_algorithm_with_params_metrics_plot_and_model(
    healthy_stack: Settings, sweep: tuple[str, str]
) -> None:
    name, _ = sweep
    client = MlflowClient(healthy_stack.tracking_uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get(KIND_TAG) == "sweep"]
    children = {r.data.tags[ALGORITHM_TAG]: r for r in runs
                if r.data.tags.get(KIND_TAG) == "algorithm"}
    assert len(parents) == 1 and set(children) == {"prior", "logreg"}
    parent = parents[0]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id
               for r in children.values())
    assert parent.data.params["features"] and parent.data.metrics["rows_validation"] > 0
    parent_files = {f.path for f in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/pr_curves_all.png" in parent_files

    logreg, prior = children["logreg"], children["prior"]
    assert logreg.data.params["algorithm"] == "logreg"
    assert logreg.data.params["logreg.class_weight"] == "balanced"
    assert {"pr_auc", "roc_auc", "fit_seconds", "latency_p95_ms"} <= set(logreg.data.metrics)
    # the constant model ranks nothing: ROC-AUC 0.5, PR-AUC = the fraud rate of validation
    base_rate = parent.data.metrics["positives_validation"] / parent.data.metrics[
        "rows_validation"]
    assert prior.data.metrics["roc_auc"] == pytest.approx(0.5)
    assert prior.data.metrics["pr_auc"] == pytest.approx(base_rate, rel=1e-6)
    assert logreg.data.metrics["pr_auc"] > 5 * prior.data.metrics["pr_auc"]
    plots = {f.path for f in client.list_artifacts(logreg.info.run_id, "plots")}
    assert "plots/roc_pr_curves.png" in plots

    mlflow.set_tracking_uri(healthy_stack.tracking_uri)
    model = mlflow.pyfunc.load_model(f"runs:/{logreg.info.run_id}/model")
    example = model.input_example
    scored = np.asarray(model.predict(example))
    assert scored.shape == (len(example), 2) and np.all((scored >= 0) & (scored <= 1))


def test_compare_ranks_by_the_metric_and_applies_the_filter(
    healthy_stack: Settings, sweep: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, run_output = sweep
    assert run_output.index("logreg") < run_output.index("prior")  # best PR-AUC first
    monkeypatch.setenv("DOJO_MLFLOW_TRACKING_URI", healthy_stack.tracking_uri)
    code, out = _run("compare", "--experiment", name)
    assert code == 0, out
    assert out.index("logreg") < out.index("prior")
    code, out = _run("compare", "--experiment", name, "--filter", "metrics.roc_auc > 0.6")
    assert code == 0 and "logreg" in out and "prior" not in out.split("runs by")[1]
    code, out = _run("compare", "--experiment", name, "--filter", "metrics.roc_auc >> 1")
    assert code == 2 and "MLflow refused the search" in out
    code, out = _run("run", "--end", "2025-03-15", "--algorithms", "xgboost")
    assert code == 2 and "unknown xgboost" in out

"""`dojo model promote|rollback|list|compare|show` move the aliases as they say they do.

Versions are created directly in the session stack's MLflow (runs with metrics, versions
tagged as the DAG tags them), so this test does not depend on a training run.
"""

from __future__ import annotations

import uuid

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from dojo.cli.model import app
from dojo.settings import Settings
from dojo.training.tracking import GATE_TAG, PREVIOUS_CHAMPION_TAG


@pytest.fixture
def registry(healthy_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[MlflowClient,
                                                                                  str]:
    """A model with versions 1..4 (v3 refused by the gates) and v1 as champion."""
    name = f"fraud-registry-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("DOJO_REGISTERED_MODEL", name)
    uri = healthy_stack.tracking_uri
    client = MlflowClient(uri, registry_uri=uri)
    experiment = client.create_experiment(name)
    client.create_registered_model(name)
    for number, pr_auc in enumerate((0.80, 0.84, 0.20, 0.86), start=1):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "pr_auc", pr_auc)
        client.log_metric(run.info.run_id, "roc_auc", 0.97)
        client.set_terminated(run.info.run_id)
        version = client.create_model_version(name, f"runs:/{run.info.run_id}/model",
                                              run_id=run.info.run_id)
        assert version.version == str(number)
        client.set_model_version_tag(name, version.version, GATE_TAG,
                                     "failed" if number == 3 else "passed")
        # what the DAG's publish step logs: every gate's verdict (v3 too slow)
        client.log_dict(run.info.run_id, {"passed": number != 3, "checks": [
            {"name": "pr_auc_floor", "passed": True, "message": f"PR-AUC {pr_auc}"},
            {"name": "latency", "passed": number != 3,
             "message": "p95 80 ms (budget 50 ms)" if number == 3 else "p95 3 ms"}]},
            "reports/gates.json")
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "4")
    return client, name


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False,
                                env={"COLUMNS": "200"})  # tables unwrapped
    return result.exit_code, result.output


def test_promote_moves_champion_and_records_the_previous_one(
    registry: tuple[MlflowClient, str],
) -> None:
    client, name = registry
    code, out = _run("promote", "2")
    assert code == 0, out
    assert "champion: v1 -> v2" in out and "previous-champion: (none) -> v1" in out
    aliases = client.get_registered_model(name).aliases
    assert aliases["champion"] == "2" and aliases["previous-champion"] == "1"
    assert client.get_model_version(name, "2").tags[PREVIOUS_CHAMPION_TAG] == "1"

    code, out = _run("promote", "4")  # the challenger: it stops being one
    assert "champion: v2 -> v4" in out and "challenger: v4 -> (none)" in out
    aliases = client.get_registered_model(name).aliases
    assert aliases == {"champion": "4", "previous-champion": "2"}

    code, out = _run("promote", "4")
    assert code == 0 and "already the champion" in out


def test_rollback_walks_back_the_chain(registry: tuple[MlflowClient, str]) -> None:
    client, name = registry
    _run("promote", "2")
    _run("promote", "4")
    code, out = _run("rollback")
    assert code == 0, out
    assert "champion: v4 -> v2" in out and "previous-champion: v2 -> v1" in out
    assert client.get_registered_model(name).aliases["champion"] == "2"
    code, out = _run("rollback")
    assert "champion: v2 -> v1" in out
    aliases = client.get_registered_model(name).aliases
    assert aliases["champion"] == "1" and "previous-champion" not in aliases
    code, out = _run("rollback")
    assert code == 1 and "nothing to roll back to" in out


def test_a_version_that_failed_the_gates_needs_force(registry: tuple[MlflowClient, str]) -> None:
    client, name = registry
    code, out = _run("promote", "3")
    assert code == 1 and "gate status 'failed'" in out and "--force" in out
    assert client.get_registered_model(name).aliases["champion"] == "1"
    code, out = _run("promote", "3", "--force")
    assert code == 0 and "champion: v1 -> v3" in out
    assert "--force" in client.get_model_version(name, "3").tags["dojo.promoted_by"]


def test_list_show_and_compare_print_versions_and_metrics(
    registry: tuple[MlflowClient, str],
) -> None:
    code, out = _run("list")
    assert code == 0, out
    assert "champion" in out and "challenger" in out and "0.86" in out
    code, out = _run("show", "4")
    assert code == 0 and "challenger" in out and "pr_auc" in out
    code, out = _run("compare", "1", "4")
    assert code == 0 and "pr_auc" in out and "+0.06" in out
    code, out = _run("show", "99")
    assert code == 1 and "no version 99" in out


def test_aliases_stand_for_versions(registry: tuple[MlflowClient, str]) -> None:
    client, name = registry
    code, out = _run("show", "champion")
    assert code == 0 and f"{name} v1" in out, out
    code, out = _run("promote", "@challenger")
    assert code == 0 and "champion: v1 -> v4" in out, out
    assert client.get_registered_model(name).aliases["champion"] == "4"
    code, out = _run("show", "challenger")  # promoting it removed the alias
    assert code == 1 and "no version and no alias 'challenger'" in out
    assert "champion" in out  # the message lists the aliases that do exist


def test_compare_shows_which_gates_each_version_passed(
    registry: tuple[MlflowClient, str],
) -> None:
    code, out = _run("compare", "champion", "3")
    assert code == 0, out
    latency = next(line for line in out.splitlines() if line.strip("│ ").startswith("latency "))
    assert "pass p95 3 ms" in latency and "FAIL p95 80 ms" in latency, latency
    overall = next(line for line in out.splitlines() if "overall" in line)
    assert "passed" in overall and "failed" in overall

"""Every DAG in dags/ imports cleanly, opens no connection at parse time, and is wired as meant.

Runs the parse in a subprocess: Airflow reads its configuration on first import, so the test
gives it a throw-away AIRFLOW_HOME (no metadata DB is needed to parse), and blocks sockets
before importing anything, so a DAG file that talks to MLflow or a database while being
parsed fails here instead of slowing the DAG processor down every 30 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from dojo.runtime.airflow import DAGS_FOLDER
from dojo.training.names import DAG_ID

PARSE = r"""
import json, socket, sys

def refuse(*args, **kwargs):
    raise RuntimeError(f"connection opened at parse time: {args!r}")

socket.socket.connect = refuse
socket.create_connection = refuse

from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v)[-600:] for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tasks": [t.task_id for t in dag.topological_sort()] if hasattr(dag, "topological_sort")
        else sorted(dag.task_ids),
        "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        "retries": {t.task_id: t.retries for t in dag.tasks},
        "params": sorted(dag.params.keys()),
        "schedule": type(dag.timetable).__name__,
        "file": dag.fileloc.rsplit("/", 1)[-1],
    }
if "fraud_training" in bag.dags:
    from dojo.training import errors
    policy = bag.dags["fraud_training"].get_task("train").retry_policy
    samples = {
        "DependencyDown": errors.DependencyDown("MLflow", "http://x", "ConnectError"),
        "InputsMissing": errors.InputsMissing("no rows"),
        "DataValidationError": errors.DataValidationError([("amount", "range", "bad")]),
        "GateFailed": errors.GateFailed(["PR-AUC low"], "run"),
        "KeyError": KeyError("unexpected bug"),
    }
    out["policy"] = {name: policy.evaluate(exc, 1, 4).action.value
                     for name, exc in samples.items()}
print("RESULT " + json.dumps(out))
"""


def parse(folder: Path, home: Path) -> dict:
    """Parse every DAG file in ``folder`` the way the DAG processor does, sockets blocked."""
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'unused.db'}",
        "PATH": str(Path(sys.executable).parent),
        # a tracking server that does not exist: parsing must not need it
        "DOJO_MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
        "DOJO_HOME": str(home / "dojo"),
    }
    result = subprocess.run([sys.executable, "-c", PARSE, str(folder)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the parse crashed:\n{result.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return parse(DAGS_FOLDER, tmp_path_factory.mktemp("airflow_home"))


def test_every_dag_file_imports_without_errors_and_defines_its_dag(parsed: dict) -> None:
    assert parsed["errors"] == {}, parsed["errors"]
    files = {p.name for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_")}
    assert files and {dag["file"] for dag in parsed["dags"].values()} == files
    assert DAG_ID in parsed["dags"]


def test_the_parse_check_catches_a_connection_and_an_import_error(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "talks_at_parse.py").write_text(
        "import socket\nfrom airflow.sdk import dag\n"
        "socket.create_connection(('127.0.0.1', 5000))\n"
        "@dag(dag_id='talks')\ndef talks():\n    pass\ntalks()\n")
    (folder / "broken_import.py").write_text("import dojo.no_such_module  # airflow DAG\n")
    result = parse(folder, tmp_path / "home")
    assert result["dags"] == {}
    errors = {Path(name).name: text for name, text in result["errors"].items()}
    assert "connection opened at parse time" in errors["talks_at_parse.py"]
    assert "no_such_module" in errors["broken_import.py"]


def test_fraud_training_is_wired_in_order(parsed: dict) -> None:
    dag = parsed["dags"][DAG_ID]
    order = ["resolve_window", "check_inputs", "needs_training", "validate",
             "build_training_set", "split", "train", "evaluate", "gate", "publish"]
    for upstream, downstream in pairwise(order):
        assert upstream in dag["upstream"][downstream], (upstream, downstream)
    assert dag["schedule"] == "CronDataIntervalTimetable"
    assert set(dag["params"]) == {"force", "shuffle_labels", "refresh_features"}
    assert all(retries == 3 for retries in dag["retries"].values())


def test_retry_policy_retries_dependencies_and_fails_bad_data_at_once(parsed: dict) -> None:
    assert parsed["policy"] == {
        "DependencyDown": "retry",  # may come back: exponential backoff
        "InputsMissing": "fail", "DataValidationError": "fail", "GateFailed": "fail",
        "KeyError": "default",  # anything else: the task's normal retries
    }

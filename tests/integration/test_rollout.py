"""`dojo rollout` against real components, while live traffic runs.

A real model server (`dojo serve`) on a free port, MLflow's registry, tiny real models: v1 the
champion, v2 the same rule (a good challenger), v3 the opposite rule (its scores shift), v4 a
model that raises on categories it never saw (its error rate). Generated users send requests
to /predict the whole time (dojo.delivery.traffic), and every answer that is not a 200 is
counted: a rollout, and its rollback, must fail none.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from serving_processes import ServerProcess, wait_for

from dojo.delivery import rollout_state as rs
from dojo.delivery.traffic import Traffic
from dojo.settings import Settings
from serving_support import register_models, strict_pipeline, tiny_pipeline

DOJO = str(Path(sys.executable).with_name("dojo"))
FAST = {"DOJO_SERVING_ALIAS_POLL_S": "0.2", "DOJO_SERVING_REGISTRY_RETRY_S": "0.2",
        "DOJO_ROLLOUT_MIN_SAMPLES": "30", "DOJO_ROLLOUT_SHARES": "0.1,0.5"}


@pytest.fixture
def served(healthy_stack: Settings, tmp_path: Path) -> Iterator[tuple[str, MlflowClient,
                                                                       ServerProcess, dict]]:
    name = f"fraud-rollout-{uuid.uuid4().hex[:6]}"
    uri = healthy_stack.tracking_uri
    models = [tiny_pipeline(), tiny_pipeline(), tiny_pipeline(flip=True), strict_pipeline()]
    assert register_models(uri, name, models) == ["1", "2", "3", "4"]
    client = MlflowClient(uri, registry_uri=uri)
    client.set_registered_model_alias(name, "champion", "1")
    home = tmp_path / "home"
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")
        env = {**os.environ, **FAST, "DOJO_REGISTERED_MODEL": name, "DOJO_HOME": str(home),
               "DOJO_SERVING_PORT": str(server.port)}
        yield name, client, server, env


def aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def status(env: dict) -> str:
    done = subprocess.run([DOJO, "rollout", "status"], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout


def run_rollout(env: dict, version: str, step_s: str, client: MlflowClient,
                ) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, str, dict]]]:
    """Run `dojo rollout start` while reading its state file and the registry's aliases;
    return (step, status, aliases) each time the step or its status changed."""
    home = Path(env["DOJO_HOME"])
    name = env["DOJO_REGISTERED_MODEL"]
    proc = subprocess.Popen([DOJO, "rollout", "start", version, "--step-seconds", step_s],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    seen: list[tuple[str, str, dict]] = []
    while proc.poll() is None:
        state = rs.load(home)
        if state is not None and state.current is not None:
            key = (state.current.name, state.status)
            if not seen or seen[-1][:2] != key:
                seen.append((*key, aliases(client, name)))
        time.sleep(0.1)
    out, _ = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, ""), seen


def test_a_good_challenger_goes_shadow_10_50_full_and_ends_as_champion(served) -> None:
    name, client, server, env = served
    traffic = Traffic(server.url, rate=60).start()
    try:
        done, seen = run_rollout(env, "2", "3", client)
        final = status(env)
    finally:
        traffic.stop()
    assert done.returncode == 0, done.stdout
    assert traffic.failed == 0 and traffic.sent > 100, traffic.summary()
    steps = [step for step, state, _ in seen if state == rs.RUNNING]
    assert steps[:3] == ["shadow", "canary 10%", "canary 50%"], seen
    for step, state, found in seen:
        if state == rs.RUNNING and step != "full":
            assert found == {"champion": "1", "challenger": "2"}, (step, found)
    assert aliases(client, name) == {"champion": "2", "previous-champion": "1"}
    assert f"rollout {name} v2 (champion was v1): promoted; step full" in final
    assert "registry aliases now: champion v2, challenger (none), previous-champion v1" in final
    assert final.count("passed") >= 4
    model = httpx.get(f"{server.url}/model", timeout=5).json()
    assert model["aliases"]["champion"]["version"] == "2"
    assert model["routing"]["mode"] == "off"


@pytest.mark.parametrize(("version", "failed_gate"), [("3", "PSI vs champion"),
                                                       ("4", "error rate")])
def test_a_worse_challenger_stops_at_the_failing_step_and_rolls_back(
        served, version: str, failed_gate: str) -> None:
    name, client, server, env = served
    traffic = Traffic(server.url, rate=60).start()
    try:
        done, _ = run_rollout(env, version, "3", client)
        during = status(env)
        time.sleep(1.0)  # traffic keeps running after the rollback
    finally:
        traffic.stop()
    assert done.returncode == 1, done.stdout
    assert traffic.failed == 0 and traffic.sent > 50, traffic.summary()
    state = rs.load(Path(env["DOJO_HOME"]))
    assert state is not None and state.status == rs.ROLLED_BACK
    assert state.steps[0].status == rs.FAILED  # shadow already shows it
    assert [s.status for s in state.steps[1:]] == [rs.PENDING] * 3
    assert failed_gate in state.message
    assert "rolled back at shadow" in done.stdout
    assert aliases(client, name) == {"champion": "1"}
    assert client.get_model_version(name, version).tags["dojo.rollout"].startswith(
        "rolled back at shadow")
    assert "rolled_back; step shadow" in during
    assert "registry aliases now: champion v1, challenger (none)" in during
    model = httpx.get(f"{server.url}/model", timeout=5).json()
    assert model["routing"]["mode"] == "off" and model["aliases"]["champion"]["version"] == "1"

"""`dojo deploy` against real components: MLflow's registry and a running model server.

Each test registers small real models (skops, as training logs them) under a model name of its
own: v1 learned the generator's fraud patterns, v2 the same rows with the labels reversed (the
broken version: it loads, answers 200 and ranks the known frauds last), v3 the same as v1 (a
good release). The deploy
runs as the `dojo` command a person types, and the test reads its exit code and output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from serving_processes import ServerProcess, wait_for

from dojo.runtime.ports import free_port
from dojo.settings import REPO_ROOT, Settings
from serving_support import generator_pipeline, register_models

FAST = {"DOJO_SERVING_ALIAS_POLL_S": "0.2", "DOJO_SERVING_REGISTRY_RETRY_S": "0.2",
        "DOJO_DEPLOY_HEALTH_RETRIES": "40", "DOJO_DEPLOY_HEALTH_INTERVAL_S": "0.5"}
DOJO = str(Path(sys.executable).with_name("dojo"))


@pytest.fixture
def versions(healthy_stack: Settings) -> tuple[str, MlflowClient]:
    name = f"fraud-deploy-{uuid.uuid4().hex[:6]}"
    uri = healthy_stack.tracking_uri
    good, broken = generator_pipeline(), generator_pipeline(invert=True)
    assert register_models(uri, name, [good, broken, good]) == ["1", "2", "3"]
    client = MlflowClient(uri, registry_uri=uri)
    client.set_registered_model_alias(name, "champion", "1")
    return name, client


def dojo_deploy(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOJO, "deploy", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600, check=False)


def champion(client: MlflowClient, name: str) -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


def test_broken_version_rolls_back_and_a_good_one_deploys_locally(
        versions: tuple[str, MlflowClient], tmp_path: Path) -> None:
    name, client = versions
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")
        env = {"DOJO_REGISTERED_MODEL": name, "DOJO_SERVING_PORT": str(server.port), **FAST}

        refused = dojo_deploy("2", **env)
        assert refused.returncode == 2 and "gate status 'unknown'" in refused.stderr
        assert champion(client, name) == "1"

        broken = dojo_deploy("2", "--force", **env)
        out = broken.stdout + broken.stderr
        assert broken.returncode == 1, out
        assert "alias champion: v1 -> v2" in out
        assert "smoke test: FAILED" in out and "rolling back to v1" in out
        assert "do not rank the known frauds above the legitimate rows" in out
        assert "rolled back, v1 serves again" in out
        assert champion(client, name) == "1"
        assert server.metric('dojo_serving_model_info{alias="champion",name="' + name
                             + '",version="1"}') == 1.0
        tags = client.get_model_version(name, "2").tags
        assert tags["dojo.deploy"].startswith("rolled back: smoke test failed")

        good = dojo_deploy("3", "--force", **env)
        assert good.returncode == 0, good.stdout + good.stderr
        assert "[5/6] smoke test: passed" in good.stdout and "deployed v3" in good.stdout
        assert champion(client, name) == "3"
        assert str(client.get_model_version_by_alias(name, "previous-champion").version) == "1"


def test_deploy_without_a_server_or_with_a_bad_version_says_so(
        versions: tuple[str, MlflowClient]) -> None:
    name, client = versions
    down = dojo_deploy("3", DOJO_REGISTERED_MODEL=name, DOJO_SERVING_PORT=str(free_port()))
    assert down.returncode == 3 and "needs the model server at" in down.stderr
    assert champion(client, name) == "1"  # nothing moved
    unknown = dojo_deploy("v42", DOJO_REGISTERED_MODEL=name)
    assert unknown.returncode in (2, 3)  # 3 when the stack's server is not on its port
    bad_target = dojo_deploy("3", "--target", "moon")
    assert bad_target.returncode == 2 and "moon" in bad_target.stderr


@pytest.fixture(scope="module")
def docker_image() -> str:
    engine = subprocess.run([str(REPO_ROOT / "platform/scripts/docker-engine.sh")],
                            capture_output=True, text=True, check=False)
    if engine.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Docker engine in CI: {engine.stderr.strip()}")
        pytest.skip(engine.stderr.strip())
    image = "dojo-serving:test"
    built = subprocess.run([str(REPO_ROOT / "platform/scripts/build-image.sh")],
                           env={**os.environ, "DOJO_IMAGE": image}, capture_output=True,
                           text=True, check=False, timeout=1800)
    assert built.returncode == 0, built.stdout + built.stderr
    return image


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"dojo-deploy-test-{uuid.uuid4().hex[:6]}"
    yield name
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def test_broken_version_rolls_back_in_the_docker_target(
        versions: tuple[str, MlflowClient], docker_image: str, container_name: str) -> None:
    name, client = versions
    env = {"DOJO_REGISTERED_MODEL": name, "DOJO_DEPLOY_DOCKER_IMAGE": docker_image,
           "DOJO_DEPLOY_DOCKER_CONTAINER": container_name,
           "DOJO_DEPLOY_DOCKER_PORT": str(free_port()), **FAST}
    first = dojo_deploy("1", "--target", "docker", "--force", **env)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert f"started container {container_name}" in out

    broken = dojo_deploy("2", "--target", "docker", "--force", **env)
    out = broken.stdout + broken.stderr
    assert broken.returncode == 1, out
    assert f"container {container_name} running" in out and "smoke test: FAILED" in out
    assert champion(client, name) == "1"
    running = subprocess.run(["docker", "inspect", "--format", "{{.State.Running}}",
                              container_name], capture_output=True, text=True, check=False)
    assert running.stdout.strip() == "true"


def test_the_k8s_target_without_a_cluster_exits_3_with_one_line(tmp_path: Path) -> None:
    """No cluster can run here: the deploy stops at its prerequisite check, naming it."""
    unreachable = {"KUBECONFIG": str(tmp_path / "no-cluster"), "DOJO_MLFLOW_PORT": "1"}
    if shutil.which("kubectl"):
        done = dojo_deploy("3", "--target", "k8s", **unreachable)
        assert done.returncode == 3, done.stdout + done.stderr
        assert done.stderr.strip().splitlines() == [
            "error: needs a reachable Kubernetes cluster: create one (`kind create cluster` or "
            "`minikube start`) until `kubectl cluster-info` answers"]
    bare = tmp_path / "bin"
    bare.mkdir()
    no_kubectl = dojo_deploy("3", "--target", "k8s", PATH=str(bare), **unreachable)
    assert no_kubectl.returncode == 3
    assert "needs kubectl: install it" in no_kubectl.stderr

"""The model-server image, built and run for real against the session stack.

`make image`'s script builds it (on a Debian-made base where no registry answers); the
container then serves the stack's champion: /ready, a /predict, the non-root user, a
read-only root filesystem and Docker's own HEALTHCHECK verdict. In CI a skip here is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from serving_processes import wait_for

from dojo.features.spec import feast_dir
from dojo.runtime.ports import free_port
from dojo.settings import REPO_ROOT, Settings
from serving_support import push_user_features, register_versions, transaction

IMAGE = "dojo-serving:test"


@pytest.fixture(scope="module")
def docker() -> str:
    result = subprocess.run([str(REPO_ROOT / "platform/scripts/docker-engine.sh")],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Docker engine in CI: {result.stderr.strip()}")
        pytest.skip(result.stderr.strip())
    return result.stdout.strip()


@pytest.fixture(scope="module")
def image(docker: str) -> str:
    result = subprocess.run([str(REPO_ROOT / "platform/scripts/build-image.sh")],
                            env={**os.environ, "DOJO_IMAGE": IMAGE}, capture_output=True,
                            text=True, check=False, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return IMAGE


@pytest.fixture
def container(docker: str, image: str, healthy_stack: Settings,
              tmp_path: Path) -> Iterator[tuple[str, str]]:
    name = f"fraud-image-{uuid.uuid4().hex[:6]}"
    assert register_versions(healthy_stack.tracking_uri, name, flips=(False,)) == ["1"]
    MlflowClient(healthy_stack.tracking_uri).set_registered_model_alias(name, "champion", "1")
    push_user_features(healthy_stack, "u_container", age_s=45)
    port = free_port()
    cid = f"dojo-serving-test-{port}"
    # Host networking: the stack listens on the host's loopback. The Feast registry and
    # SQLite online store are the stack's, mounted where the image's DOJO_HOME expects them.
    command = [docker, "run", "--detach", "--name", cid, "--network", "host",
               "--read-only", "--tmpfs", "/tmp",
               "--volume", f"{feast_dir(healthy_stack)}:/var/lib/dojo/feast",
               "--env", "DOJO_HOST=127.0.0.1", "--env", f"DOJO_SERVING_PORT={port}",
               "--env", f"DOJO_MLFLOW_TRACKING_URI={healthy_stack.tracking_uri}",
               "--env", f"DOJO_KAFKA_BOOTSTRAP={healthy_stack.bootstrap_servers}",
               "--env", f"DOJO_REGISTERED_MODEL={name}", image]
    subprocess.run(command, check=True, capture_output=True)
    try:
        yield cid, f"http://127.0.0.1:{port}"
    finally:
        logs = subprocess.run([docker, "logs", "--tail", "30", cid], capture_output=True,
                              text=True, check=False)
        print(logs.stdout[-3000:], logs.stderr[-3000:])
        subprocess.run([docker, "rm", "--force", cid], capture_output=True, check=False)


def test_container_serves_the_champion_as_non_root(docker: str,
                                                   container: tuple[str, str]) -> None:
    cid, url = container

    last: list[str] = []

    def ready() -> bool:
        try:
            response = httpx.get(f"{url}/ready", timeout=5)
        except httpx.HTTPError as error:
            last[:] = [repr(error)]
            return False
        last[:] = [response.text]
        return response.status_code == 200

    try:
        wait_for(ready, 120, "the container's /ready")
    except AssertionError as error:
        raise AssertionError(f"{error}; last answer: {last}") from None
    response = httpx.post(f"{url}/predict", timeout=10,
                          json=transaction(1, amount=900.0, user="u_container"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1" and body["decision"] == "fraud"
    assert body["degraded"] is False  # it read the stack's online store
    uid = subprocess.run([docker, "exec", cid, "id", "-u"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert uid == "10001"
    touched = subprocess.run([docker, "exec", cid, "touch", "/opt/venv/x"],
                             capture_output=True, text=True, check=False)
    assert touched.returncode != 0 and "Read-only file system" in touched.stderr

    def healthy() -> bool:
        state = subprocess.run([docker, "inspect", "--format", "{{json .State.Health}}", cid],
                               capture_output=True, text=True, check=True).stdout
        return json.loads(state)["Status"] == "healthy"

    wait_for(healthy, 90, "Docker's HEALTHCHECK verdict")

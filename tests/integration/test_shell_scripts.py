"""platform/scripts/deploy.sh and monitor.sh: shellcheck clean, and driven for real.

Against a running stack (MLflow and a model server on free ports) and a stopped one (ports
where nothing listens), checking each exit code and the log lines a person would read.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from serving_processes import ServerProcess, wait_for

from dojo.runtime.ports import free_port
from dojo.settings import REPO_ROOT, Settings
from serving_support import register_models, strict_pipeline, tiny_pipeline

SCRIPTS = REPO_ROOT / "platform" / "scripts"
FAST = {"DOJO_SERVING_ALIAS_POLL_S": "0.2", "DOJO_SERVING_REGISTRY_RETRY_S": "0.2",
        "HEALTH_RETRIES": "40", "HEALTH_PAUSE_S": "0.5"}


def script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300, check=False)


def test_the_scripts_are_shellcheck_clean() -> None:
    """Every script under platform/scripts (deploy, monitor, cluster, image, engine), with the
    libraries they source followed (-x) and style-level findings included."""
    scripts = sorted(str(p) for p in SCRIPTS.rglob("*.sh"))
    assert any(p.endswith("deploy.sh") for p in scripts)
    assert any(p.endswith("cluster-up.sh") for p in scripts)
    result = subprocess.run(["shellcheck", "-x", "--severity=style", *scripts],
                            capture_output=True, text=True, cwd=SCRIPTS, check=False)
    assert result.returncode == 0, result.stdout


def test_against_a_stopped_stack_they_exit_with_the_reason(tmp_path: Path) -> None:
    log = tmp_path / "monitor.log"
    nothing = {"DOJO_SERVING_PORT": str(free_port()), "DOJO_MLFLOW_PORT": str(free_port()),
               "DOJO_TRACKING_URI": "", "LOG_FILE": str(log)}
    nothing["DOJO_TRACKING_URI"] = f"http://127.0.0.1:{nothing['DOJO_MLFLOW_PORT']}"
    monitor = script("monitor.sh", **nothing)
    assert monitor.returncode == 1
    assert "ERROR monitor.sh: model server http://127.0.0.1:" in monitor.stderr
    assert "not answering /health" in monitor.stderr
    assert "ERROR monitor.sh: unhealthy" in log.read_text()
    deploy = script("deploy.sh", "2", **nothing)
    assert deploy.returncode == 3
    assert "ERROR deploy.sh: the registry at" in deploy.stderr
    assert script("deploy.sh", **nothing).returncode == 2
    assert script("deploy.sh", "v1; rm -rf /", **nothing).returncode == 2
    assert script("monitor.sh", "--count", "0", **nothing).returncode == 2


@pytest.fixture
def running(healthy_stack: Settings, tmp_path: Path):
    name = f"fraud-shell-{uuid.uuid4().hex[:6]}"
    uri = healthy_stack.tracking_uri
    models = [tiny_pipeline(), strict_pipeline(), tiny_pipeline()]
    assert register_models(uri, name, models) == ["1", "2", "3"]
    client = MlflowClient(uri, registry_uri=uri)
    client.set_registered_model_alias(name, "champion", "1")
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")
        env = {**FAST, "DOJO_REGISTERED_MODEL": name, "DOJO_SERVING_PORT": str(server.port),
               "DOJO_TRACKING_URI": uri}
        yield name, client, env


def test_against_a_running_stack_deploy_rolls_back_a_broken_version(running) -> None:
    name, client, env = running
    healthy = script("monitor.sh", "--count", "2", "--interval", "1", **env)
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stderr.count("INFO monitor.sh: model server") == 2
    assert "ready, champion v1, routing off" in healthy.stderr
    assert "INFO monitor.sh: healthy: every check passed in 2 round(s)" in healthy.stderr

    broken = script("deploy.sh", "2", **env)  # raises on categories it never saw
    assert broken.returncode == 1, broken.stderr
    assert "ERROR deploy.sh: smoke test: /predict/batch failed" in broken.stderr
    assert "WARN deploy.sh: rolling back: champion -> v1" in broken.stderr
    assert "INFO deploy.sh: rolled back: v1 serves again" in broken.stderr
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"

    after = script("monitor.sh", **env)  # the broken version's 5xx came before this round
    assert after.returncode == 0, after.stderr

    good = script("deploy.sh", "3", **env)
    assert good.returncode == 0, good.stderr
    assert "INFO deploy.sh: smoke test passed" in good.stderr
    assert "INFO deploy.sh: deployed: v3 serves" in good.stderr
    assert str(client.get_model_version_by_alias(name, "champion").version) == "3"
    assert script("deploy.sh", "99", **env).returncode == 2

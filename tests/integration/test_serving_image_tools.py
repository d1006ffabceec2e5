"""The model-server image's files, checked by the tools that read them: hadolint on the
Dockerfile, `docker-compose config` on the compose file, and the Docker scripts' exit 3 when no
engine answers. In CI a missing tool is a failure (.ci/run installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dojo.settings import REPO_ROOT

DOCKER_DIR = REPO_ROOT / "docker"
IN_CI = os.environ.get("CI") == "true"


def tool(name: str) -> str:
    """A tool the test needs: skipped on a laptop without it, a failure in CI."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} is missing in CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([tool("hadolint"), str(DOCKER_DIR / "serving.Dockerfile")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_is_valid_for_docker_compose() -> None:
    result = subprocess.run([tool("docker-compose"), "-f", str(DOCKER_DIR / "compose.yaml"),
                             "config", "-q"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", ["docker-engine.sh", "build-image.sh"])
def test_without_docker_the_docker_targets_exit_3_with_one_line(script: str) -> None:
    result = subprocess.run(
        [str(REPO_ROOT / "platform" / "scripts" / script)], capture_output=True, text=True,
        env={**os.environ, "DOJO_DOCKER": "/nonexistent/docker"}, check=False)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "install Docker" in lines[0], result.stderr

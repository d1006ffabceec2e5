"""Does this machine have what a lab needs beyond the local stack (a Docker engine, a cluster)?

Why a distinct answer rather than a failure: a laptop without Docker cannot run lab 03, and
that is a fact about the machine, not a bug in the lab. The runner prints one line naming what
to install and exits with ``EXIT_MISSING_PREREQUISITE``; ``tests/labs`` turns that code into a
skip with the same reason, so a missing engine is never mistaken for a passing lab.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

# How long a probe may take: `docker info` against a dead socket answers at once, but a
# `kubectl cluster-info` against an unreachable API server waits for its own timeout.
PROBE_TIMEOUT_S = 15.0

DOCKER_HINT = (
    "needs a Docker engine: install Docker Engine "
    "(https://docs.docker.com/engine/install/) and start it"
)
KUBECTL_HINT = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/)"
CLUSTER_TOOL_HINT = (
    "needs kind or minikube: install kind (https://kind.sigs.k8s.io/docs/user/quick-start/) "
    "or minikube (https://minikube.sigs.k8s.io/docs/start/)"
)
CLUSTER_HINT = (
    "needs a running Kubernetes cluster: create one with `make cluster-up CLUSTER=kind` "
    "(or CLUSTER=minikube) until `kubectl cluster-info` answers"
)


@dataclass(frozen=True)
class Missing:
    """A prerequisite this machine lacks, with the one line that says what to do."""

    need: str
    reason: str


def _succeeds(command: list[str]) -> bool:
    try:
        done = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=PROBE_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def check_docker() -> Missing | None:
    """A Docker *engine* answers; the client alone (``docker --version``) is not enough."""
    if shutil.which("docker") is None or not _succeeds(["docker", "info"]):
        return Missing("docker", DOCKER_HINT)
    return None


def check_cluster() -> Missing | None:
    """kubectl reaches a cluster, and kind or minikube is there to (re)create it."""
    if shutil.which("kubectl") is None:
        return Missing("cluster", KUBECTL_HINT)
    if shutil.which("kind") is None and shutil.which("minikube") is None:
        return Missing("cluster", CLUSTER_TOOL_HINT)
    if not _succeeds(["kubectl", "cluster-info"]):
        return Missing("cluster", CLUSTER_HINT)
    return None


_CHECKS = {"docker": check_docker, "cluster": check_cluster}


def missing_prerequisites(needs: Iterable[str]) -> list[Missing]:
    """What the machine lacks for these needs (``stack`` is handled by the runner: it starts it)."""
    found = []
    for need in needs:
        check = _CHECKS.get(need)
        result = check() if check else None
        if result is not None:
            found.append(result)
    return found

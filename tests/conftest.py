"""Test tiers by folder, and shared fixtures: a real local stack on free loopback ports.

Tiers: `tests/unit` starts nothing (no process, no server); `make test-fast` runs it. The
markers come from the folder (`integration`, `labs` and `slow` below), never from a hand-set
mark per file, and a unit test that starts a process fails at once, naming the rule.

Why one session-wide stack: MLflow alone needs ~10 s to start; the tests that only need a
healthy stack share one, while tests that break the stack (drills, up/down) start their own
or restore it before they finish.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dojo.runtime.sandbox import EnvPatch, sandbox_env
from dojo.runtime.stack import Stack
from dojo.settings import TELEMETRY_OFF, Settings, get_settings, load_settings

TESTS = Path(__file__).parent
FOLDER_MARKS = {"integration": ("integration", "slow"), "labs": ("labs", "slow")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder: integration and labs tests start real components."""
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        for name in FOLDER_MARKS.get(folder, ()):
            item.add_marker(name)


class StartsAProcess(AssertionError):
    """A test outside the slow tiers tried to start a process or a server."""


def _restoring_mlflow_uris() -> Iterator[None]:
    """MLflow keeps its tracking and registry URIs per process (`mlflow.set_registry_uri`, which
    the model loader and several helpers call). A test or a module fixture that pointed them at
    its own, since stopped, server must not send later calls there: put them back afterwards."""
    tracking = registry = None
    if "mlflow" in sys.modules:
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        tracking, registry = tracking_utils._tracking_uri, registry_utils._registry_uri
    yield
    if "mlflow" in sys.modules:
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        tracking_utils._tracking_uri, registry_utils._registry_uri = tracking, registry


@pytest.fixture(autouse=True)
def _mlflow_uris_restored() -> Iterator[None]:
    """After each test (see `_restoring_mlflow_uris`)."""
    yield from _restoring_mlflow_uris()


@pytest.fixture(autouse=True, scope="module")
def _mlflow_uris_restored_per_module() -> Iterator[None]:
    """After each module: a module fixture (test_monitor_service's own MLflow) sets them too."""
    yield from _restoring_mlflow_uris()


@pytest.fixture(autouse=True)
def _fast_tests_start_nothing(request: pytest.FixtureRequest,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests run in `make test-fast`, which must start no process and no server.

    They also see none of the `DOJO_*` variables a session stack exported (`make test` runs them
    after the integration tests): a unit test that builds its own settings must get exactly them.
    """
    if request.node.get_closest_marker("slow") is not None:
        return
    for key in [k for k in os.environ if k.startswith("DOJO_")]:
        monkeypatch.delenv(key)
    get_settings.cache_clear()

    def refuse(*args: object, **kwargs: object) -> None:
        raise StartsAProcess(f"{request.node.nodeid} starts a process or a server; it belongs in "
                             "tests/integration (marked slow by its folder)")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(socket.socket, "listen", refuse)


# No usage telemetry from the libraries under test (this machine reaches package registries only).
for _variable, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_variable, _value)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A running stack (broker, MLflow, Prometheus, Alertmanager) with DOJO_* exported."""
    home = tmp_path_factory.mktemp("dojo")
    with EnvPatch(sandbox_env(home)):
        settings = load_settings()
        stack = Stack(settings)
        stack.up()
        try:
            yield settings
        finally:
            stack.down()


@pytest.fixture
def healthy_stack(local_stack: Settings) -> Settings:
    """The session stack, restarted if a previous test left part of it stopped."""
    stack = Stack(local_stack)
    states = {s.name: s.state for s in stack.status()}
    if any(state in {"stopped", "unhealthy"} for state in states.values()):
        stack.up()
    return local_stack


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at a fresh temp home and free ports, with nothing started."""
    for key, value in sandbox_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return load_settings()

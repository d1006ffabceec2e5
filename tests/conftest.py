"""Shared fixtures: a real local stack on free loopback ports, isolated under a temp home.

Why one session-wide stack: MLflow alone needs ~10 s to start; the tests that only need a
healthy stack share one, while tests that break the stack (drills, up/down) start their own
or restore it before they finish.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dojo.ops.ports import free_port
from dojo.ops.stack import Stack
from dojo.settings import Settings, get_settings, load_settings


def stack_env(home: Path) -> dict[str, str]:
    """DOJO_* variables for an isolated stack: its own state dir and free ports."""
    ports: set[int] = set()
    while len(ports) < 4:
        ports.add(free_port())
    kafka, mlflow, prometheus, alertmanager = sorted(ports)
    return {
        "DOJO_HOME": str(home),
        "DOJO_KAFKA_PORT": str(kafka),
        "DOJO_MLFLOW_PORT": str(mlflow),
        "DOJO_PROMETHEUS_PORT": str(prometheus),
        "DOJO_ALERTMANAGER_PORT": str(alertmanager),
        "DOJO_KAFKA_BOOTSTRAP": "",
        "DOJO_MLFLOW_TRACKING_URI": "",
        "DOJO_PROGRESS_FILE": str(home / "progress.json"),
    }


class EnvPatch:
    """Set variables for a whole session (monkeypatch is function-scoped) and restore them."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved = {key: os.environ.get(key) for key in values}

    def __enter__(self) -> EnvPatch:
        os.environ.update(self.values)
        get_settings.cache_clear()
        return self

    def __exit__(self, *exc: object) -> None:
        for key, old in self.saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A running stack (broker, MLflow, Prometheus, Alertmanager) with DOJO_* exported."""
    home = tmp_path_factory.mktemp("dojo")
    with EnvPatch(stack_env(home)):
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
    for key, value in stack_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return load_settings()

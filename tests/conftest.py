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

from dojo.ops.sandbox import EnvPatch, sandbox_env
from dojo.ops.stack import Stack
from dojo.settings import TELEMETRY_OFF, Settings, get_settings, load_settings

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

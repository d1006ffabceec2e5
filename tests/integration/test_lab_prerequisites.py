"""Docker and cluster detection: the client alone is not an engine; a missing tool is one line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dojo.teaching.labs.prerequisites import (
    CLUSTER_HINT,
    CLUSTER_TOOL_HINT,
    DOCKER_HINT,
    KUBECTL_HINT,
    missing_prerequisites,
)


def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **exit_codes: int) -> None:
    """Put scripts named like the real tools on an otherwise empty PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, code in exit_codes.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))


def reasons(needs: list[str]) -> list[str]:
    return [missing.reason for missing in missing_prerequisites(needs)]


def test_stack_is_not_a_prerequisite_check(tmp_path: Path, monkeypatch) -> None:
    fake_tools(tmp_path, monkeypatch)
    assert reasons(["stack"]) == []


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        ({}, DOCKER_HINT),
        ({"docker": 1}, DOCKER_HINT),  # the client answers, `docker info` finds no engine
        ({"docker": 0}, None),
    ],
)
def test_docker_needs_a_running_engine(tmp_path: Path, monkeypatch, tools, expected) -> None:
    fake_tools(tmp_path, monkeypatch, **tools)
    assert reasons(["docker"]) == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        ({}, KUBECTL_HINT),
        ({"kubectl": 0}, CLUSTER_TOOL_HINT),
        ({"kubectl": 1, "kind": 0}, CLUSTER_HINT),
        ({"kubectl": 0, "minikube": 0}, None),
    ],
)
def test_cluster_needs_kubectl_a_tool_and_a_cluster(tmp_path: Path, monkeypatch, tools,
                                                    expected) -> None:
    fake_tools(tmp_path, monkeypatch, **tools)
    assert reasons(["cluster"]) == ([expected] if expected else [])


def test_hints_are_one_line_naming_what_to_install() -> None:
    for hint in (DOCKER_HINT, KUBECTL_HINT, CLUSTER_TOOL_HINT, CLUSTER_HINT):
        assert hint.startswith("needs ") and "\n" not in hint
    assert "https://docs.docker.com/engine/install/" in DOCKER_HINT

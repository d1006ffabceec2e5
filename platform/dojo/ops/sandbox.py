"""A side-by-side stack: its own state directory and free loopback ports.

Why in the package (not only in tests): the tests, the benchmarks and the drills' own checks all
need a second stack that cannot collide with a learner's running one on the default ports.
"""

from __future__ import annotations

import os
from pathlib import Path

from dojo.ops.ports import free_port
from dojo.settings import get_settings


def sandbox_env(home: Path) -> dict[str, str]:
    """DOJO_* variables for an isolated stack under ``home`` on free ports."""
    ports: set[int] = set()
    while len(ports) < 6:
        ports.add(free_port())
    kafka, mlflow, prometheus, alertmanager, airflow, stream = sorted(ports)
    return {
        "DOJO_HOME": str(home),
        "DOJO_KAFKA_PORT": str(kafka),
        "DOJO_MLFLOW_PORT": str(mlflow),
        "DOJO_PROMETHEUS_PORT": str(prometheus),
        "DOJO_ALERTMANAGER_PORT": str(alertmanager),
        "DOJO_AIRFLOW_PORT": str(airflow),
        "DOJO_STREAM_METRICS_PORT": str(stream),
        "DOJO_KAFKA_BOOTSTRAP": "",
        "DOJO_MLFLOW_TRACKING_URI": "",
        "DOJO_PROGRESS_FILE": str(home / "progress.json"),
    }


class EnvPatch:
    """Set environment variables for a block and restore them after (settings cache too)."""

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

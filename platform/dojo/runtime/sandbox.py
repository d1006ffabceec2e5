"""A side-by-side stack: its own state directory and free loopback ports.

Why in the package (not only in tests): the tests, the benchmarks and the drills' own checks all
need a second stack that cannot collide with a learner's running one on the default ports.
"""

from __future__ import annotations

import os
from pathlib import Path

from dojo.runtime.ports import sandbox_port
from dojo.settings import PORT_FIELDS, env_name, get_settings


def sandbox_env(home: Path) -> dict[str, str]:
    """DOJO_* variables for an isolated stack under ``home`` on free ports (below the
    ephemeral range: see `sandbox_port`)."""
    ports: set[int] = set()
    while len(ports) < len(PORT_FIELDS):
        ports.add(sandbox_port())
    return {
        "DOJO_HOME": str(home),
        **{env_name(field): str(port)
           for field, port in zip(PORT_FIELDS.values(), sorted(ports), strict=True)},
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

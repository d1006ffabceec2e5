"""The model-server pod's init container: `python -m dojo.serving.feature_registry`.

It must write Feast's registry with nothing else running (Redis may not answer yet when the
pod starts), and refuse a bad setting with one line, as the server itself does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dojo.runtime.ports import free_port


def run(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dojo.serving.feature_registry"],
        env={**os.environ, "DOJO_HOME": str(home), **env}, capture_output=True, text=True,
        timeout=300, check=False)


def test_writes_the_registry_without_the_online_store(tmp_path: Path) -> None:
    done = run(tmp_path, DOJO_ONLINE_STORE="redis",
               DOJO_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 0, done.stderr[-2000:]
    registry = tmp_path / "feast" / "registry.db"
    assert registry.stat().st_size > 0
    assert f"feature registry written: {registry}" in done.stdout


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run(tmp_path, DOJO_ONLINE_STORE="cassandra")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "DOJO_ONLINE_STORE" in done.stderr
    assert not (tmp_path / "feast" / "registry.db").exists()

"""Settings as a person meets them: a bad value ends a command in one line, and `.env` is read
from the repository root whatever the current directory."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_cli_reports_a_bad_setting_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_KAFKA_PORT", "abc")
    result = subprocess.run(
        [sys.executable, "-m", "dojo.cli", "status"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "DOJO_KAFKA_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # rich may wrap one long line

"""Settings: defaults for local mode, and every bad value named by its DOJO_ variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dojo.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DOJO_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_local_stack() -> None:
    settings = load_settings()
    assert settings.uses_local_broker
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.tracking_uri == "http://127.0.0.1:5000"
    assert settings.home.is_absolute()
    assert settings.kafka_session_timeout_ms == 6000


def test_real_kafka_replaces_the_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    settings = load_settings()
    assert not settings.uses_local_broker
    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOJO_KAFKA_PORT", "not-a-port"),
        ("DOJO_MLFLOW_PORT", "70000"),
        ("DOJO_ONLINE_STORE", "cassandra"),
        ("DOJO_KAFKA_BOOTSTRAP", "no-port-here"),
        ("DOJO_KAFKA_SESSION_TIMEOUT_MS", "10"),
        ("DOJO_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert value in str(caught.value)


def test_two_components_on_one_port_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_PROMETHEUS_PORT", "5000")
    with pytest.raises(SettingsError, match="DOJO_PROMETHEUS_PORT and DOJO_MLFLOW_PORT"):
        load_settings()


def test_cli_reports_a_bad_setting_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_KAFKA_PORT", "abc")
    result = subprocess.run(
        [sys.executable, "-m", "dojo.cli", "status"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "DOJO_KAFKA_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # rich may wrap one long line

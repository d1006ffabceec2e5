"""Settings: defaults for local mode, and every bad value named by its DOJO_ variable."""

from __future__ import annotations

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


def test_dotenv_is_read_from_the_repository_root_not_the_current_directory(
    tmp_path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dojo.settings

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("DOJO_KAFKA_PORT=1111\n")  # a stray file where we stand
    root_env = tmp_path / "repo.env"
    root_env.write_text("DOJO_MLFLOW_PORT=5123\n")
    monkeypatch.setattr(dojo.settings, "ENV_FILE", root_env)
    monkeypatch.chdir(elsewhere)
    settings = load_settings()
    assert settings.mlflow_port == 5123
    assert settings.kafka_port == 9092


def test_the_dotenv_location_is_the_checkout_and_git_ignores_it() -> None:
    from dojo.settings import ENV_FILE, REPO_ROOT

    assert ENV_FILE == REPO_ROOT / ".env"
    ignored = (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored and (REPO_ROOT / ".env.example").is_file()


def test_airflow_url_overrides_the_local_address(tmp_path) -> None:
    """Compose and Kubernetes reach Airflow by service name (DOJO_AIRFLOW_URL), not DOJO_HOST."""
    from dojo.runtime.airflow import api_url

    local = load_settings(home=tmp_path, host="127.0.0.1", airflow_port=8181)
    assert api_url(local) == "http://127.0.0.1:8181"
    cluster = load_settings(home=tmp_path, host="0.0.0.0", airflow_url="http://airflow:8080/")
    assert api_url(cluster) == "http://airflow:8080"

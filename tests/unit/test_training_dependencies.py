"""A step whose dependency is down says which one, fast, and as the retryable error type."""

from __future__ import annotations

import time

import pytest

from dojo.runtime.ports import free_port
from dojo.settings import load_settings
from dojo.training.airflow_api import AirflowApi
from dojo.training.errors import DependencyDown
from dojo.training.tracking import require_mlflow


def test_mlflow_down_names_the_server_within_seconds() -> None:
    settings = load_settings(mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(DependencyDown) as caught:
        require_mlflow(settings)
    assert time.monotonic() - started < 5  # not the MLflow client's minutes of retries
    assert caught.value.dependency == "MLflow tracking server"
    assert settings.tracking_uri in str(caught.value) and "dojo logs mlflow" in str(caught.value)


def test_airflow_down_names_the_api_server() -> None:
    settings = load_settings(airflow_port=free_port())
    with AirflowApi(settings) as api, pytest.raises(DependencyDown) as caught:
        api.get_dag("fraud_training")
    assert caught.value.dependency == "Airflow API server"
    assert f":{settings.airflow_port}" in str(caught.value)

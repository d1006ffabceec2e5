"""The model-server image's inputs, checked without building it: the Dockerfile's shape, the
image installs exactly the locked versions, compose is pinned and health-gated."""

from __future__ import annotations

import re
import tomllib

import yaml

from dojo.settings import REPO_ROOT

DOCKER_DIR = REPO_ROOT / "docker"


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (DOCKER_DIR / "serving.Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim", text, re.M)
    assert text.count("FROM ${BASE_IMAGE}") == 2  # build and runtime stages
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "HEALTHCHECK" in text and "/health" in text
    assert "# syntax=" not in text  # Debian's BuildKit client has no frontend to pull


def locked_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    versions: dict[str, set[str]] = {}
    for package in lock["package"]:
        versions.setdefault(package["name"], set()).add(package["version"])
    return {name: ",".join(sorted(v)) for name, v in versions.items()}


def test_image_requirements_are_the_locked_versions_and_only_serving_packages() -> None:
    pins = dict(line.split("==") for line in
                (DOCKER_DIR / "serving-requirements.txt").read_text().split()
                if "==" in line)
    locked = locked_versions()
    stale = {name: (version, locked.get(name)) for name, version in pins.items()
             if version not in (locked.get(name) or "").split(",")}
    assert stale == {}, f"rerun platform/scripts/serving-requirements.sh: {stale}"
    for heavy in ("apache-airflow", "evidently", "mlflow", "duckdb", "matplotlib", "supervisor"):
        assert heavy not in pins
    for needed in ("fastapi", "uvicorn", "mlflow-skinny", "feast", "skops", "kafka-python"):
        assert needed in pins


def test_compose_is_pinned_and_health_gated() -> None:
    compose = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())
    services = compose["services"]
    assert {"kafka", "redis", "postgres", "mlflow", "airflow", "prometheus", "alertmanager",
            "grafana", "model-server", "stream", "drift-monitor"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), (name, image)
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert rule["condition"] in {"service_healthy", "service_completed_successfully"}, \
                (name, dependency)
    assert services["model-server"]["image"].startswith("${DOJO_IMAGE:-dojo-serving")
    assert "KRaft" in (DOCKER_DIR / "compose.yaml").read_text()
    dashboards = list((DOCKER_DIR / "compose" / "grafana" / "dashboards").glob("*.json"))
    assert dashboards and "dojo_serving_request_duration_seconds" in dashboards[0].read_text()


def test_compose_alerting_routes_like_the_local_stack() -> None:
    """One routing policy: compose's Alertmanager differs from the local one only in where the
    monitor's webhook is, and Prometheus scrapes every platform job the rules select on."""
    from dojo.settings import REPO_ROOT

    local = yaml.safe_load((REPO_ROOT / "platform/dojo/runtime/templates/alertmanager.yml")
                           .read_text())
    compose = yaml.safe_load((DOCKER_DIR / "compose" / "alertmanager.yml").read_text())
    webhook = next(r for r in compose["receivers"] if r["name"] == "retrain-webhook")
    assert webhook["webhook_configs"][0]["url"] == "http://drift-monitor:8002/alerts"
    for document in (local, compose):
        for receiver in document["receivers"]:
            receiver.pop("webhook_configs", None)
    assert compose == local
    scrape = yaml.safe_load((DOCKER_DIR / "compose" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    assert {"model-server", "stream", "drift-monitor"} <= jobs

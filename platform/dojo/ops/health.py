"""Health checks: does each component answer the way its clients need it to?

Why not just "is the port open": a port can accept connections while the service is still
migrating its database or has lost its topics. Each check asks the question a real client
would ask (Kafka metadata, MLflow's REST API, Prometheus readiness).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from dojo.settings import Settings

# kafka-python logs every failed connection attempt at ERROR; a health probe expects failures.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def _http(url: str, expect: int = 200, timeout: float = 2.0) -> Health:
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as error:
        return Health(False, f"{url}: {type(error).__name__}")
    if response.status_code != expect:
        return Health(False, f"{url} answered {response.status_code}")
    return Health(True, f"answered {expect}")


def check_broker(settings: Settings, timeout_ms: int = 3000) -> Health:
    """A metadata request, the first thing every producer and consumer sends."""
    from kafka.errors import KafkaError

    from dojo.ingestion.topics import admin_client, topic_plan

    try:
        admin = admin_client(settings, timeout_ms=timeout_ms)
    except (KafkaError, OSError) as error:
        return Health(False, f"no broker at {settings.bootstrap_servers}: {type(error).__name__}")
    try:
        topics = set(admin.list_topics())
    except (KafkaError, OSError) as error:
        return Health(False, f"metadata request failed: {type(error).__name__}")
    finally:
        admin.close()
    missing = sorted(set(topic_plan(settings)) - topics)
    if missing:
        return Health(False, f"broker answers but topics are missing: {', '.join(missing)}")
    return Health(True, f"metadata OK at {settings.bootstrap_servers}, {len(topics)} topics")


def check_mlflow(settings: Settings) -> Health:
    health = _http(f"{settings.tracking_uri}/health")
    if not health.ok:
        return health
    api = _http(f"{settings.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1")
    return Health(api.ok, "REST API answers" if api.ok else api.detail)


def check_prometheus(settings: Settings) -> Health:
    return _http(f"http://{settings.host}:{settings.prometheus_port}/-/ready")


def check_alertmanager(settings: Settings) -> Health:
    return _http(f"http://{settings.host}:{settings.alertmanager_port}/-/ready")


CHECKS = {
    "broker": check_broker,
    "mlflow": check_mlflow,
    "prometheus": check_prometheus,
    "alertmanager": check_alertmanager,
}


def check(name: str, settings: Settings) -> Health:
    """Run the named component's check (unknown names are reported, not raised)."""
    probe = CHECKS.get(name)
    if probe is None:
        return Health(False, f"no health check for {name!r}")
    return probe(settings)

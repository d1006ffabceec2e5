"""Health checks: does each component answer the way its clients need it to?

Why not just "is the port open": a port can accept connections while the service is still
migrating its database or has lost its topics. Each check asks the question a real client
would ask (Kafka metadata, MLflow's REST API, Prometheus readiness).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from dojo.settings import Settings


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

    from dojo.runtime.kafka_admin import admin_client, topic_plan

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


def _airflow_health(settings: Settings) -> tuple[Health, dict]:
    """Airflow's own health report: metadata DB plus the heartbeat of each job type.

    /api/v2/monitor/health needs no login; a process counts as healthy while its job row
    heartbeats (scheduler_health_check_threshold, 30 s by default).
    """
    from dojo.runtime.airflow import api_url

    url = f"{api_url(settings)}/api/v2/monitor/health"
    try:
        response = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as error:
        return Health(False, f"{url}: {type(error).__name__}"), {}
    if response.status_code != 200:
        return Health(False, f"{url} answered {response.status_code}"), {}
    return Health(True, "answered 200"), response.json()


def check_airflow(settings: Settings) -> Health:
    health, report = _airflow_health(settings)
    if not health.ok:
        return health
    database = report.get("metadatabase", {}).get("status")
    if database != "healthy":
        return Health(False, f"API answers but the metadata database is {database}")
    return Health(True, "API answers, metadata DB healthy")


def _airflow_job(settings: Settings, job: str) -> Health:
    health, report = _airflow_health(settings)
    if not health.ok:
        return Health(False, f"cannot ask the API server: {health.detail}")
    status = (report.get(job) or {}).get("status")
    beat_key = "latest_scheduler_heartbeat" if job == "scheduler" else f"latest_{job}_heartbeat"
    beat = (report.get(job) or {}).get(beat_key)
    if status != "healthy":
        return Health(False, f"{job} {status or 'never started'} (last heartbeat {beat})")
    return Health(True, f"{job} heartbeat {beat}")


def check_airflow_scheduler(settings: Settings) -> Health:
    return _airflow_job(settings, "scheduler")


def check_airflow_dag_processor(settings: Settings) -> Health:
    return _airflow_job(settings, "dag_processor")


def check_airflow_triggerer(settings: Settings) -> Health:
    return _airflow_job(settings, "triggerer")


def check_stream(settings: Settings) -> Health:
    """The processor serves /metrics once it runs; its consumer counters prove it is the one."""
    url = f"http://{settings.host}:{settings.stream_metrics_port}/metrics"
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError as error:
        return Health(False, f"{url}: {type(error).__name__}")
    if response.status_code != 200 or "dojo_stream_events_total" not in response.text:
        return Health(False, f"{url} answered {response.status_code} without stream metrics")
    return Health(True, "metrics answer")


def check_model_server(settings: Settings) -> Health:
    """Alive (/health) is enough to count as started: the server answers /ready with 503
    until a champion exists, which a fresh stack does not have. The detail says which."""
    base = f"http://{settings.host}:{settings.serving_port}"
    health = _http(f"{base}/health")
    if not health.ok:
        return health
    try:
        ready = httpx.get(f"{base}/ready", timeout=5.0)
        reasons = ready.json().get("reasons") or []
    except (httpx.HTTPError, ValueError) as error:
        return Health(True, f"alive; /ready did not answer ({type(error).__name__})")
    if ready.status_code == 200:
        return Health(True, f"ready, champion v{ready.json().get('model_version')}")
    return Health(True, f"alive, not ready: {'; '.join(reasons)[:200]}")


def check_drift_monitor(settings: Settings) -> Health:
    """Alive when /status answers; the detail says what it has (window, reference) or lacks."""
    url = f"http://{settings.host}:{settings.monitor_port}/status"
    try:
        response = httpx.get(url, timeout=3.0)
        status = response.json()
    except (httpx.HTTPError, ValueError) as error:
        return Health(False, f"{url}: {type(error).__name__}")
    if response.status_code != 200:
        return Health(False, f"{url} answered {response.status_code}")
    window = status.get("window") or {}
    problem = status.get("intake_problem") or status.get("reference_problem")
    detail = (f"{window.get('predictions', 0)} predictions, {window.get('labels_joined', 0)} "
              f"labels joined" + (f"; {problem}" if problem else ""))
    return Health(True, detail[:200])


CHECKS = {
    "model-server": check_model_server,
    "drift-monitor": check_drift_monitor,
    "stream": check_stream,
    "broker": check_broker,
    "mlflow": check_mlflow,
    "prometheus": check_prometheus,
    "alertmanager": check_alertmanager,
    "airflow": check_airflow,
    "airflow-scheduler": check_airflow_scheduler,
    "airflow-dag-processor": check_airflow_dag_processor,
    "airflow-triggerer": check_airflow_triggerer,
}


def check(name: str, settings: Settings) -> Health:
    """Run the named component's check (unknown names are reported, not raised)."""
    probe = CHECKS.get(name)
    if probe is None:
        return Health(False, f"no health check for {name!r}")
    return probe(settings)

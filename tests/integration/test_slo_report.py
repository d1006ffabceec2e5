"""`dojo slo report` against a real Prometheus scraping the model server's real metrics class:
the SLIs and error budgets come out of the PromQL as the arithmetic says they should."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import start_http_server

from dojo.runtime.ports import free_port
from dojo.serving.metrics import ServingMetrics

sys.path.insert(0, str(Path(__file__).parents[1]))
from integration.serving_processes import wait_for

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None,
                                reason="prometheus missing: make os-deps")


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[tuple[ServingMetrics, int]]:
    """Serving metrics on a free port, scraped every second by a Prometheus of its own."""
    metrics = ServingMetrics()
    exporter_port, prom_port = free_port(), free_port()
    server, thread = start_http_server(exporter_port, addr="127.0.0.1", registry=metrics.registry)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: model-server\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prom.log").open("wb"))
    try:
        wait_for(lambda: _ready(prom_port), 30, "prometheus ready")
        yield metrics, prom_port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        server.shutdown()
        thread.join(timeout=5)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _samples(port: int, query: str) -> int:
    result = httpx.get(f"http://127.0.0.1:{port}/api/v1/query",
                       params={"query": query}).json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def test_slis_and_error_budget_from_promql(scraped: tuple[ServingMetrics, int]) -> None:
    metrics, prom_port = scraped
    # the server creates its /predict series at zero, so the first requests are counted
    query = 'count(count_over_time(dojo_serving_request_duration_seconds_count{route="/predict",' \
            'status=~"200|500"}[1m]) >= 2)'
    wait_for(lambda: _samples(prom_port, query) == 2, 30, "two scrapes of both zero series")
    duration = metrics.request_duration
    ok, failed = duration.labels("/predict", "POST", "200"), duration.labels("/predict", "POST",
                                                                            "500")
    for _ in range(980):
        ok.observe(0.02)
    for _ in range(15):
        ok.observe(0.3)  # over the 100 ms target
    for _ in range(5):
        failed.observe(0.02)
    seen = 'max_over_time(dojo_serving_request_duration_seconds_count{status="200"}[1m])'
    wait_for(lambda: _samples(prom_port, seen) == 995, 30, "the traffic scraped")
    env = {**os.environ, "DOJO_PROMETHEUS_PORT": str(prom_port), "DOJO_HOST": "127.0.0.1",
           "DOJO_SLO_LATENCY_OBJECTIVE": "0.95", "DOJO_SLO_AVAILABILITY_OBJECTIVE": "0.99"}
    result = subprocess.run([str(Path(sys.executable).with_name("dojo")), "slo", "report",
                             "--window", "1m"], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
             if line.count("│") > 2}
    # latency: 985 of 1000 under 100 ms; 15 bad of 50 allowed (5%) -> 70% of the budget left
    assert "98.50%" in lines["latency"] and "70.00%" in lines["latency"], result.stdout
    # availability: 995 of 1000 without a 5xx; 5 bad of 10 allowed -> 50% left
    assert "99.50%" in lines["availability"] and "50.00%" in lines["availability"]


def test_a_bad_window_is_one_line_and_exit_2() -> None:
    result = subprocess.run([str(Path(sys.executable).with_name("dojo")), "slo", "report",
                             "--window", "an hour"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--window" in result.stderr

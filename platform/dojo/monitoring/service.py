"""The drift monitor process: intake thread, a run every interval, and a small HTTP API.

Endpoints (FastAPI on `monitor_port`):
  GET  /health   the process is alive
  GET  /status   window sizes, the reference, the intake's problem if any, the last run
  GET  /metrics  Prometheus
  POST /run      one run now (what `dojo monitor run` calls), returns its summary
  POST /alerts   Alertmanager's webhook: drift/performance alerts -> retraining (retrain.py)

Why one process for all of it: the window file has one writer (the intake), the metrics
exist once, and the webhook's cool-down record lives next to the reports.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dojo.monitoring import reports
from dojo.monitoring.analysis import RunResult, analyse, new_run_id
from dojo.monitoring.intake_loop import Intake
from dojo.monitoring.metrics import MonitorMetrics
from dojo.monitoring.reference import Reference, champion_version, load_champion_reference
from dojo.monitoring.retrain import RetrainWebhook
from dojo.monitoring.window import Window, WindowSizes
from dojo.settings import Settings

log = structlog.get_logger(__name__)


def open_window(settings: Settings) -> Window:
    return Window(settings.home / "monitor" / "window.sqlite3", settings.monitor_window_max_rows,
                  settings.monitor_window_max_age_s, settings.monitor_label_grace_s)


class Monitor:
    """The window, the reference and the runs; usable in-process (tests, `dojo monitor run`
    without a running monitor) or inside the service."""

    def __init__(self, settings: Settings, window: Window | None = None,
                 metrics: MonitorMetrics | None = None) -> None:
        self.settings = settings
        self.window = window or open_window(settings)
        self.metrics = metrics or MonitorMetrics()
        self.reference: Reference | None = None
        self.reference_problem: str | None = None
        self.last: dict[str, Any] | None = None
        self._run_lock = threading.Lock()

    def refresh_reference(self) -> Reference | None:
        """Follow the champion alias; keep the current reference while MLflow is away."""
        try:
            version = champion_version(self.settings)
            if version is not None and (self.reference is None
                                        or self.reference.version != version):
                self.reference = load_champion_reference(self.settings, version)
                self.metrics.reference.info({"version": version,
                                             "run_id": self.reference.run_id})
                log.info("monitor.reference_loaded", version=version)
            self.reference_problem = None if version else "no champion in the registry yet"
        except Exception as error:
            self.reference_problem = f"{type(error).__name__}: {error}"[:300]
            log.warning("monitor.reference_unavailable", error=self.reference_problem)
        return self.reference

    def reset_window(self) -> WindowSizes:
        """Start a new window now (`dojo monitor reset`); never in the middle of a run.

        The last run is forgotten too: it described the window just dropped, and `dojo doctor`
        must not report its drift or performance as the current state."""
        with self._run_lock:
            dropped = self.window.reset()
            self.last = None
        self.metrics.window_sizes(self.window.sizes())
        log.info("monitor.window_reset", **dropped.__dict__)
        return dropped

    def run_once(self) -> RunResult:
        with self._run_lock:
            pruned = self.window.prune()
            if pruned["unknown_label"]:
                self.metrics.bad_messages.labels("labels", "unknown_transaction").inc(
                    pruned["unknown_label"])
                log.warning("monitor.labels_unknown_transaction", count=pruned["unknown_label"],
                            grace_s=self.settings.monitor_label_grace_s)
            self.metrics.window_sizes(self.window.sizes())
            reference = self.refresh_reference()
            run_id = new_run_id()
            s = self.settings
            try:
                result = analyse(reference, self.window.frame(), min_rows=s.monitor_min_rows,
                                 min_labelled=s.monitor_min_labelled,
                                 precision_target=s.gate_precision_target,
                                 report_dir=reports.run_dir(s, run_id), run_id=run_id,
                                 evidently_max_rows=s.monitor_evidently_max_rows)
            except Exception:
                self.metrics.runs.labels("failed").inc()
                log.exception("monitor.run_failed", run_id=run_id)
                raise
            if reference is None and self.reference_problem:
                result.status = f"no reference: {self.reference_problem}"
            reports.save(s, result)
            self.metrics.record_run(result, time.time())
            self.last = result.to_dict()
            log.info("monitor.run", run_id=run_id, status=result.status, rows=result.rows,
                     drift_share=round(result.drift_share, 3), drifted=result.drifted,
                     seconds=round(result.seconds, 2))
            return result


def create_app(monitor: Monitor, webhook: RetrainWebhook, intake: Intake | None = None) -> FastAPI:
    app = FastAPI(title="dojo drift monitor", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/status")
    def status() -> dict[str, Any]:
        sizes = monitor.window.sizes()
        return {"window": sizes.__dict__, "counters": monitor.window.counters(),
                "reference": monitor.reference.version if monitor.reference else None,
                "reference_problem": monitor.reference_problem,
                "intake_problem": intake.problem if intake else None, "last_run": monitor.last}

    @app.get("/metrics")
    def metrics() -> Response:
        monitor.metrics.window_sizes(monitor.window.sizes())
        return Response(generate_latest(monitor.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/run")
    def run() -> dict[str, Any]:
        result = monitor.run_once()
        return {**result.to_dict(), "dir": str(reports.run_dir(monitor.settings, result.run_id))}

    @app.post("/window/reset")
    def reset_window() -> dict[str, Any]:
        return {"dropped": monitor.reset_window().__dict__}

    @app.post("/alerts")
    async def alerts(request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body: not valid JSON"}, status_code=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
            return JSONResponse({"detail": "alerts: expected Alertmanager's webhook payload "
                                           "with a list of alerts"}, status_code=422)
        record = webhook.handle(payload)
        if record is None:
            monitor.metrics.triggers.labels("ignored").inc()
            return JSONResponse({"outcome": "ignored"})
        monitor.metrics.triggers.labels(record.outcome).inc()
        return JSONResponse(record.__dict__)

    return app


def serve(settings: Settings, port: int | None = None) -> None:
    """Run until SIGTERM/SIGINT: intake thread, scheduled runs, HTTP."""
    import uvicorn

    monitor = Monitor(settings)
    intake = Intake(settings, monitor.window, monitor.metrics)
    stop = threading.Event()

    def every_interval() -> None:
        while not stop.wait(settings.monitor_interval_s):
            try:
                monitor.run_once()
            except Exception as error:  # logged in run_once; the next interval tries again
                log.warning("monitor.scheduled_run_failed", error=str(error))

    threads = [threading.Thread(target=intake.run, args=(stop,), name="intake", daemon=True),
               threading.Thread(target=every_interval, name="runs", daemon=True)]
    for thread in threads:
        thread.start()
    app = create_app(monitor, RetrainWebhook(settings), intake)
    try:
        uvicorn.run(app, host=settings.host, port=port or settings.monitor_port,
                    access_log=False, log_level=settings.log_level.lower())
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        monitor.window.close()

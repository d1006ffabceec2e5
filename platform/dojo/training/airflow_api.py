"""A small client for the Airflow 3 REST API (/api/v2), as `dojo train` uses it.

Why not the `airflow` CLI: the CLI talks to the metadata database directly and needs Airflow's
whole configuration in the calling process; the REST API is what any other tool (CI, a
retrain webhook, a notebook) would use, with the same authentication. Airflow 3 authenticates
API calls with a JWT: POST /auth/token with a user and password (the simple auth manager in
local mode), then `Authorization: Bearer <token>` on every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import structlog

from dojo.runtime.airflow import api_url
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings
from dojo.training.errors import DependencyDown

FINISHED = {"success", "failed"}
log = structlog.get_logger(__name__)


def start_on_demand(settings: Settings, progress: Callable[[str], None]) -> None:
    """Start the local stack's Airflow if it waits for its first use (DOJO_AIRFLOW_START).

    Why here: every Airflow caller (`dojo train`, the retrain webhook, the drills, the demo)
    logs in first, so none of them can forget it. A remote Airflow (DOJO_AIRFLOW_URL) or a
    stack that is not up is left alone: the call itself then says what is unreachable. Which
    processes are on demand (none with DOJO_AIRFLOW_START=with-stack) is the stack's to say.
    """
    if settings.airflow_url:
        return
    from dojo.runtime.stack import Stack, StackError

    try:
        Stack(settings).start_on_demand(progress)
    except StackError as error:
        raise DependencyDown("Airflow", api_url(settings), f"on-demand start failed: {error}",
                             hint="see `dojo logs airflow-scheduler` and `dojo doctor`"
                             ) from None


class AirflowApiError(RuntimeError):
    """The API answered with an error; the message carries Airflow's own detail."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AirflowApi:
    """Authenticated calls to one Airflow API server."""

    def __init__(self, settings: Settings, timeout: float = 15.0,
                 progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.base = api_url(settings)
        self.user, self.password = settings.airflow_admin_user, settings.airflow_admin_password
        self.http = httpx.Client(base_url=self.base, timeout=timeout)
        self._token: str | None = None
        self._progress = progress or (lambda message: log.info("airflow.on_demand",
                                                               message=message))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise DependencyDown("Airflow API server", self.base, type(error).__name__,
                                 hint="check `dojo status` and `dojo logs airflow`") from error

    def login(self) -> str:
        start_on_demand(self.settings, self._progress)
        response = self._send("POST", "/auth/token",
                              json={"username": self.user, "password": self.password})
        if response.status_code in (401, 403):
            raise AirflowApiError(f"Airflow refused the login of {self.user!r}: check "
                                  "DOJO_AIRFLOW_ADMIN_USER / DOJO_AIRFLOW_ADMIN_PASSWORD",
                                  response.status_code)
        if response.status_code >= 400:
            raise AirflowApiError(f"POST /auth/token answered {response.status_code}: "
                                  f"{response.text[:300]}", response.status_code)
        self._token = response.json()["access_token"]
        return self._token

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; logs in first (and once more if the token expired)."""
        for attempt in (1, 2):
            token = self._token or self.login()
            response = self._send(method, f"/api/v2{path}",
                                  headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if response.status_code in (401, 403) and attempt == 1:
                self._token = None
                continue
            if response.status_code >= 400:
                try:
                    detail = response.json().get("detail", response.text)
                except ValueError:
                    detail = response.text
                raise AirflowApiError(f"{method} /api/v2{path} answered "
                                      f"{response.status_code}: {detail}", response.status_code)
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ DAGs and runs
    def get_dag(self, dag_id: str) -> dict[str, Any]:
        try:
            return self.call("GET", f"/dags/{dag_id}")
        except AirflowApiError as error:
            if error.status == 404:
                raise AirflowApiError(
                    f"Airflow does not know the DAG {dag_id!r} yet: the DAG processor parses "
                    "dags/ every 30 s; check `dojo logs airflow-dag-processor` for import "
                    "errors", 404) from None
            raise

    def wait_for_dag(self, dag_id: str, deadline_s: float = 90.0) -> dict[str, Any]:
        """The DAG as Airflow knows it; right after Airflow starts its first parse may still
        run (404 until then)."""

        def probe() -> dict[str, Any] | AirflowApiError:
            try:
                return self.get_dag(dag_id)
            except AirflowApiError as error:
                if error.status != 404:
                    raise
                return error

        waited = wait_until(probe, deadline_s, done=lambda answer: isinstance(answer, dict),
                            first_pause_s=1.0)
        if isinstance(waited.value, AirflowApiError):
            raise waited.value
        return waited.value

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str, start: datetime, end: datetime,
                conf: dict[str, Any]) -> dict[str, Any]:
        """A manual run with an explicit data interval (logical date = interval start)."""
        body = {"dag_run_id": run_id, "logical_date": start.isoformat(),
                "data_interval_start": start.isoformat(), "data_interval_end": end.isoformat(),
                "conf": conf}
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def run_at(self, dag_id: str, logical_date: datetime) -> dict[str, Any] | None:
        """The run whose logical date is exactly ``logical_date`` (Airflow allows one)."""
        found = self.call("GET", f"/dags/{dag_id}/dagRuns", params={
            "logical_date_gte": logical_date.isoformat(),
            "logical_date_lte": logical_date.isoformat()})
        return found["dag_runs"][0] if found["dag_runs"] else None

    def runs(self, dag_id: str, start: datetime, end: datetime,
             run_type: str | None = None) -> list[dict[str, Any]]:
        """Runs with a logical date in [start, end), oldest first."""
        params: dict[str, Any] = {"logical_date_gte": start.isoformat(),
                                  "logical_date_lt": end.isoformat(),
                                  "order_by": "logical_date", "limit": 1000}
        if run_type:
            params["run_type"] = run_type
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"]

    def get_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def clear_run(self, dag_id: str, run_id: str) -> None:
        """Run every task of an existing run again (the DAG's own idempotency still holds)."""
        self.call("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})

    def delete_run(self, dag_id: str, run_id: str) -> None:
        self.call("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")[
            "task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        """A task's return value, or None when it has none (skipped, failed)."""
        try:
            entry = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
                              "/xcomEntries/return_value", params={"deserialize": True})
        except AirflowApiError as error:
            if error.status == 404:
                return None
            raise
        return entry.get("value")

    @staticmethod
    def _backfill_body(dag_id: str, first: datetime, last: datetime,
                       conf: dict[str, Any]) -> dict[str, Any]:
        # reprocess_behavior "none": an interval that already has a run (of any kind) is left
        # alone, so a backfill never re-trains what a scheduled or manual run already did.
        return {"dag_id": dag_id, "from_date": first.isoformat(), "to_date": last.isoformat(),
                "dag_run_conf": conf, "max_active_runs": 1, "reprocess_behavior": "none"}

    def backfill_plan(self, dag_id: str, first: datetime, last: datetime,
                      conf: dict[str, Any]) -> list[str]:
        """Logical dates a backfill of [first, last] would create runs for (Airflow's dry run)."""
        found = self.call("POST", "/backfills/dry_run",
                          json=self._backfill_body(dag_id, first, last, conf))
        return [entry["logical_date"] for entry in found["backfills"]]

    def backfill(self, dag_id: str, first: datetime, last: datetime,
                 conf: dict[str, Any]) -> dict[str, Any]:
        """One run per scheduled interval whose logical date is in [first, last] (inclusive),
        one at a time, oldest first."""
        body = self._backfill_body(dag_id, first, last, conf)
        # On SQLite, Airflow refuses a backfill with 503 "Database is locked" while the
        # scheduler holds a write lock; the lock is brief, so retry with backoff before failing.
        delay = 1.0
        for _ in range(6):
            try:
                return self.call("POST", "/backfills", json=body)
            except AirflowApiError as error:
                if error.status != 503 or "locked" not in str(error):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        return self.call("POST", "/backfills", json=body)

    def failure_reason(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The exception a failed task ended with, read from its log."""
        log = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
                        f"/logs/{max(try_number, 1)}", params={"full_content": True})
        reason = ""
        for event in log.get("content") or []:
            if not isinstance(event, dict):
                continue
            # the chain, raised exception first, then its causes: report the raised one
            # (DependencyDown names the service; its cause is a bare ConnectError)
            for detail in event.get("error_detail") or []:
                if isinstance(detail, dict) and detail.get("exc_type"):
                    reason = f"{detail['exc_type']}: {detail.get('exc_value', '')}"
                    break
        return reason or f"see the task log: {self.base}/dags/{dag_id}/runs/{run_id}"

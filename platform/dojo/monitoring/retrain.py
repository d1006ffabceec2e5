"""The retrain webhook: a drift or performance alert from Alertmanager -> one training run.

Why here, behind Alertmanager, and not inside the drift check: alerting already knows about
`for:` durations, grouping, silences and inhibition. A silence set during an incident must
stop automatic retraining too, so the trigger listens to what Alertmanager sends.

Why a cool-down and a record: drift persists, so the alert keeps firing, and Alertmanager
re-sends it every repeat interval. Without a cool-down each repeat would start another
training run on nearly the same data. Every alert that reaches the webhook is recorded with
what was done about it (triggered, cooling down, failed, ignored), which `dojo monitor
triggers` prints, so a person can answer "why did we retrain at 3 am?".

Why the result is only a challenger: the DAG's gates decide whether the new version may be
registered, and a registered version gets the `challenger` alias (dojo/training/publish.py);
`champion` moves only through a deliberate promotion (or a canary rollout), never from here.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import structlog

from dojo.settings import Settings
from dojo.training.names import DAG_ID

log = structlog.get_logger(__name__)
# An alert asks for retraining with this label (set in the rules of dojo/runtime/templates).
RETRAIN_LABEL = "retrain"
TRIGGERED, COOLING_DOWN, FAILED = "triggered", "cooling_down", "failed"


@dataclass(frozen=True)
class TriggerRecord:
    at: str
    alerts: list[str]
    reason: str
    outcome: str
    dag_run_id: str | None = None
    detail: str = ""


class DagTrigger(Protocol):
    def __call__(self, run_id: str, start: datetime, end: datetime,
                 conf: dict[str, Any]) -> dict[str, Any]: ...


def airflow_trigger(settings: Settings) -> DagTrigger:
    """Start `fraud_training` through Airflow's REST API (as `dojo train` does)."""
    from dojo.training.airflow_api import AirflowApi

    def trigger(run_id: str, start: datetime, end: datetime,
                conf: dict[str, Any]) -> dict[str, Any]:
        with AirflowApi(settings) as api:
            if api.wait_for_dag(DAG_ID, deadline_s=60).get("is_paused"):
                api.unpause(DAG_ID)
            body = {"dag_run_id": run_id, "logical_date": datetime.now(UTC).isoformat(),
                    "data_interval_start": start.isoformat(),
                    "data_interval_end": end.isoformat(), "conf": conf}
            return api.call("POST", f"/dags/{DAG_ID}/dagRuns", json=body)

    return trigger


def records_path(settings: Settings) -> Path:
    return settings.home / "monitor" / "triggers.jsonl"


def read_records(settings: Settings) -> list[TriggerRecord]:
    path = records_path(settings)
    if not path.exists():
        return []
    return [TriggerRecord(**json.loads(line)) for line in path.read_text().splitlines() if line]


def newest_labelled_day_end(settings: Settings) -> datetime | None:
    """Midnight after the newest day whose transactions carry labels in the offline store."""
    from dojo.ingestion.offline_store import read_transactions

    frame = read_transactions(settings.offline_dir, columns=["ts", "label_ts"])
    labelled = frame.loc[frame["label_ts"].notna(), "ts"]
    if labelled.empty:
        return None
    newest = labelled.max().to_pydatetime().astimezone(UTC)
    return newest.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def training_interval(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """One day ending at `monitor_retrain_interval_end`; unset, at the end of the newest
    labelled day in the offline store (a model can only learn from labelled rows), else the
    start of today. The DAG reads `train_lookback_days` before the end."""
    end = settings.monitor_retrain_interval_end or newest_labelled_day_end(settings) or \
        now.replace(hour=0, minute=0, second=0, microsecond=0)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    return end - timedelta(days=1), end


class RetrainWebhook:
    """Handles Alertmanager's webhook payloads; one at a time (a lock), so two deliveries
    arriving together cannot both pass the cool-down check."""

    def __init__(self, settings: Settings, trigger: DagTrigger | None = None) -> None:
        self.settings = settings
        self.trigger = trigger or airflow_trigger(settings)
        self._lock = threading.Lock()

    def _record(self, record: TriggerRecord) -> TriggerRecord:
        path = records_path(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(asdict(record)) + "\n")
        log.info("monitor.retrain_webhook", **asdict(record))
        return record

    def cooling_down_until(self, now: float) -> float | None:
        for record in reversed(read_records(self.settings)):
            if record.outcome == TRIGGERED:
                until = datetime.fromisoformat(record.at).timestamp() + \
                    self.settings.monitor_retrain_cooldown_s
                return until if until > now else None
        return None

    def handle(self, payload: dict[str, Any]) -> TriggerRecord | None:
        """Act on one delivery; None when no firing alert in it asks for retraining."""
        alerts = [a for a in payload.get("alerts", []) if isinstance(a, dict)
                  and a.get("status") == "firing"
                  and (a.get("labels") or {}).get(RETRAIN_LABEL) == "true"]
        if not alerts:
            return None
        names = sorted({a["labels"].get("alertname", "?") for a in alerts})
        reason = "; ".join((a.get("annotations") or {}).get("summary", "") for a in alerts)[:500]
        with self._lock:
            now = datetime.now(UTC)
            at = now.isoformat(timespec="seconds")
            until = self.cooling_down_until(now.timestamp())
            if until is not None:
                left = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
                return self._record(TriggerRecord(at, names, reason, COOLING_DOWN,
                                                  detail=f"cool-down until {left}"))
            start, end = training_interval(self.settings, now)
            run_id = f"retrain__{now:%Y%m%dT%H%M%S}"
            conf = {"force": True}
            try:
                self.trigger(run_id, start, end, conf)
            except Exception as error:  # Airflow down or refusing: recorded, retried next time
                return self._record(TriggerRecord(at, names, reason, FAILED,
                                                  detail=f"{type(error).__name__}: {error}"[:300]))
            return self._record(TriggerRecord(
                at, names, reason, TRIGGERED, dag_run_id=run_id,
                detail=f"{DAG_ID} on data up to {end:%Y-%m-%d %H:%M} UTC"))

"""The retrain webhook against the session stack's real Airflow and MLflow: repeated drift
alerts start exactly one `fraud_training` run per cool-down, and the version it registers
becomes `challenger` while `champion` stays where it was.

History goes into the stack's offline store on dates no other test writes (June 2025).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dojo.monitoring.retrain import COOLING_DOWN, TRIGGERED, RetrainWebhook, airflow_trigger
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings
from dojo.training import tracking
from dojo.training.airflow_api import AirflowApi
from dojo.training.names import DAG_ID

sys.path.insert(0, str(Path(__file__).parents[1]))
from integration.stack_traffic import champion, ensure_champion

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

END = datetime(2025, 6, 22, tzinfo=UTC)


def _alert(name: str) -> dict:
    return {"alerts": [{"status": "firing", "annotations": {"summary": f"{name} in a test"},
                        "labels": {"alertname": name, "severity": "ticket", "retrain": "true"}}]}


def test_alerts_start_one_run_per_cool_down_and_it_becomes_challenger(
        healthy_stack: Settings, tmp_path: Path) -> None:
    settings = healthy_stack
    champion_before = ensure_champion(settings, "2025-06-20", "2025-06-21")

    webhook = RetrainWebhook(settings.model_copy(update={
        "home": tmp_path, "monitor_retrain_interval_end": END,
        "monitor_retrain_cooldown_s": 3600}), trigger=airflow_trigger(settings))

    def retrain_runs(api: AirflowApi) -> dict[str, dict]:
        return {r["dag_run_id"]: r for r in api.call("GET", f"/dags/{DAG_ID}/dagRuns",
                                                    params={"limit": 1000})["dag_runs"]
                if r["dag_run_id"].startswith("retrain__")}

    # The session stack runs its own monitor behind Alertmanager, which may already have
    # started a retraining run of its own: count only the runs these alerts start.
    with AirflowApi(settings) as api:
        before = set(retrain_runs(api))
    outcomes = [webhook.handle(_alert(name)) for name in
                ("DojoDataDrift", "DojoDataDrift", "DojoPerformanceDrop")]
    assert [o.outcome for o in outcomes if o] == [TRIGGERED, COOLING_DOWN, COOLING_DOWN]
    run_id = outcomes[0].dag_run_id

    with AirflowApi(settings) as api:
        runs = retrain_runs(api)
        started = [runs[r] for r in sorted(set(runs) - before)]
        assert [r["dag_run_id"] for r in started] == [run_id]
        assert started[0]["data_interval_end"].startswith("2025-06-22")
        finished = wait_until(lambda: api.get_run(DAG_ID, run_id)["state"], 900,
                              done=lambda state: state in ("success", "failed"),
                              first_pause_s=2.0, max_pause_s=5.0)
        assert finished.value == "success", api.task_instances(DAG_ID, run_id)
        published = api.xcom(DAG_ID, run_id, "publish") or {}
    version = published.get("version")
    assert version is not None, published  # the gates passed; a refusal would leave none
    # What the run did to the registry (the stack's own monitor may start a later run that
    # takes `challenger` over, so the run's record is the evidence, and `champion` never moves).
    assert published["aliases"] == {tracking.CHALLENGER: version}, published
    client = tracking.client(settings)
    assert client.get_model_version(settings.registered_model, version).version == version
    assert champion(settings) == champion_before != version

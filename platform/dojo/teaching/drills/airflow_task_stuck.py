"""Drill: Airflow's default pool was set to 0 slots. The training run's tasks never start.

Why this fault: a pool is Airflow's semaphore for task slots. Lowering it to zero is how an
operator drains Airflow before maintenance, and forgetting to raise it again is how a whole
night of pipelines hangs without a single error: the scheduler, the API and the DAG are
healthy, the run is "running", and its tasks wait in `scheduled` forever. The same picture
comes from a pool exhausted by stuck tasks or sensors. It is found where Airflow keeps it, in
the task states and the pool's open slots, and the check looks there through Airflow's REST
API: the training run's first task must actually run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError

if TYPE_CHECKING:
    from dojo.training.airflow_api import AirflowApi

POOL = "default_pool"
DEFAULT_SLOTS = 128  # Airflow's default for default_pool
STARTED = {"running", "success", "failed", "up_for_retry", "up_for_reschedule", "skipped",
           "upstream_failed"}
STUCK_FOR_S = 15.0  # inject: the first task must still not have started after this long
CHECK_DEADLINE_S = 90.0  # check: time for the scheduler to start a task once slots are back
DAG_DEADLINE_S = 180.0  # inject: the DAG processor's first parse after `dojo up` (~80 s, busy)


def _api(ctx: DrillContext) -> AirflowApi:
    from dojo.training.airflow_api import AirflowApi

    return AirflowApi(ctx.settings)


def set_slots(api: AirflowApi, slots: int) -> dict[str, Any]:
    return api.call("PATCH", f"/pools/{POOL}", params={"update_mask": "slots"},
                    json={"name": POOL, "slots": slots})


def dag_known(api: AirflowApi) -> Check:
    """Does Airflow know the training DAG yet (a 404 until the DAG processor parsed it)?"""
    from dojo.training.airflow_api import AirflowApiError
    from dojo.training.names import DAG_ID

    try:
        dag = api.get_dag(DAG_ID)
    except AirflowApiError as error:
        if error.status != 404:
            raise
        return Check(False, f"{DAG_ID}: not parsed yet")
    return Check(True, f"{DAG_ID}: known, {'paused' if dag.get('is_paused') else 'active'}")


def nightly_start() -> datetime:
    """Start of yesterday's interval (UTC): the run `dojo train` triggers without dates."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def run_progress(ctx: DrillContext) -> Check:
    """Has any task of yesterday's training run started? Asked of Airflow's REST API."""
    from dojo.training.airflow_api import AirflowApiError
    from dojo.training.errors import DependencyDown
    from dojo.training.names import DAG_ID

    try:
        with _api(ctx) as api:
            run = api.run_at(DAG_ID, nightly_start())
            pool = api.call("GET", f"/pools/{POOL}")
            if run is None:
                return Check(False, f"no {DAG_ID} run for {nightly_start():%Y-%m-%d}: trigger "
                                    "it with `dojo train`")
            tasks = api.task_instances(DAG_ID, run["dag_run_id"])
    except (AirflowApiError, DependencyDown) as error:
        return Check(False, f"cannot ask Airflow: {error}")
    slots = f"{POOL} has {pool['open_slots']} open of {pool['slots']} slots"
    started = sorted((t for t in tasks if t["state"] in STARTED),
                     key=lambda t: t.get("start_date") or "")
    if started:
        first = started[0]
        return Check(True, f"run {run['dag_run_id']} is executing: task {first['task_id']} "
                           f"is {first['state']} ({len(started)} of {len(tasks)} tasks started; "
                           f"{slots})")
    states = Counter(t["state"] or "none" for t in tasks)
    waiting = ", ".join(f"{state} {count}" for state, count in states.most_common())
    return Check(False, f"run {run['dag_run_id']} ({run['state']}) has started none of its "
                        f"{len(tasks)} tasks ({waiting}); {slots}")


class AirflowTaskStuck(Drill):
    name = "airflow-task-stuck"
    title = "The training run's tasks never start in Airflow"
    symptom = (
        "Last night's training run is still `running` this morning, and `dojo train` shows "
        "it at 0 of 10 tasks done. No task has failed, no error is logged, and `dojo doctor` "
        "says the Airflow scheduler, API server and DAG processor are healthy."
    )
    hints = (
        "Ask Airflow what its tasks are waiting for: their states (`dojo train` lists them, "
        "so do the UI's Grid view and GET /api/v2/dags/fraud_training/dagRuns/<run>/"
        "taskInstances) and the pools they need (Admin > Pools, GET /api/v2/pools).",
        "The first task sits in `scheduled`: the scheduler wants to run it but cannot queue "
        "it. Every task of this DAG runs in `default_pool`, and that pool has 0 slots: "
        "somebody drained Airflow and did not give the slots back.",
        "Give `default_pool` its slots again (128, Airflow's default) through the REST API; "
        "the runbook has the line. The scheduler queues the waiting tasks within seconds.",
    )
    runbook = "labs/drills/airflow-task-stuck.md"
    fix_commands = (
        "python -c \"from dojo.settings import get_settings; "
        "from dojo.training.airflow_api import AirflowApi; "
        "print(AirflowApi(get_settings()).call('PATCH', '/pools/default_pool', "
        "params={'update_mask': 'slots'}, json={'name': 'default_pool', 'slots': 128}))\"",
    )

    def _state(self, ctx: DrillContext) -> Path:
        return ctx.state_dir / f"{self.name}.json"

    def inject(self, ctx: DrillContext) -> None:
        if not ctx.settings.airflow_enabled:
            raise DrillError("Airflow is off in this stack (DOJO_AIRFLOW_ENABLED=false): "
                             "set it to true and run `dojo up` first")
        from dojo.training.airflow_api import start_on_demand

        start_on_demand(ctx.settings, lambda message: None)  # no-op once Airflow runs
        for component in ("airflow", "airflow-scheduler"):
            health = ctx.health(component)
            if not health.ok:
                raise DrillError(f"{component} is not healthy before the drill: "
                                 f"{health.detail}")
        from dojo.training.names import DAG_ID

        with _api(ctx) as api:
            # Right after `dojo up` the DAG processor may not have parsed dags/ yet.
            ctx.wait_for(lambda: dag_known(api), deadline_s=DAG_DEADLINE_S,
                         what=f"Airflow's parse of {DAG_ID}")
            paused = bool(api.get_dag(DAG_ID).get("is_paused"))
            slots = int(api.call("GET", f"/pools/{POOL}")["slots"])
            existed = api.run_at(DAG_ID, nightly_start()) is not None
            ctx.state_dir.mkdir(parents=True, exist_ok=True)
            self._state(ctx).write_text(json.dumps({"slots": slots, "run_existed": existed,
                                                    "paused": paused}))
            set_slots(api, 0)  # the forgotten drain
        # The nightly run, as `dojo train` starts it (or runs it again if it exists).
        code, output = ctx.shell("dojo train --rerun --no-follow", timeout=180)
        if code != 0:
            raise DrillError(f"`dojo train --rerun --no-follow` failed: {output.strip()[-300:]}")
        since = time.monotonic()

        def stuck_long_enough() -> Check:
            progress = run_progress(ctx)
            if progress.ok:
                raise DrillError(f"a task started although the pool has no slots: "
                                 f"{progress.detail}")
            waited = time.monotonic() - since
            return Check(waited >= STUCK_FOR_S, progress.detail)

        ctx.wait_for(stuck_long_enough, deadline_s=STUCK_FOR_S + 30,
                     what="the run to stay waiting")

    def check(self, ctx: DrillContext) -> Check:
        """Some task of the run starts (the scheduler queues within seconds once it can)."""
        deadline = time.monotonic() + CHECK_DEADLINE_S
        while True:
            progress = run_progress(ctx)
            if progress.ok or time.monotonic() > deadline:
                return progress
            if " 0 open of 0 slots" in progress.detail:
                return progress  # no slots at all: waiting cannot help
            time.sleep(2.0)  # poll interval, bounded by the deadline

    def reset(self, ctx: DrillContext) -> None:
        """The pool's slots back; the run the drill created is deleted (nothing left running)."""
        from dojo.training.names import DAG_ID

        try:
            saved = json.loads(self._state(ctx).read_text())
        except (OSError, ValueError):
            saved = {"slots": DEFAULT_SLOTS, "run_existed": True}
        with _api(ctx) as api:
            set_slots(api, int(saved.get("slots") or DEFAULT_SLOTS))
            if not dag_known(api).ok:  # never parsed: no run and no pause to undo
                self._state(ctx).unlink(missing_ok=True)
                return
            if saved.get("paused"):  # `dojo train` unpaused it; the scheduler must not go on
                api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": True})
            run = api.run_at(DAG_ID, nightly_start())
            if run is not None and not saved.get("run_existed", True):
                # A running run cannot be deleted: end it first (its tasks are stopped).
                if run["state"] in ("queued", "running"):
                    api.call("PATCH", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}",
                             json={"state": "failed"})
                api.delete_run(DAG_ID, run["dag_run_id"])
        self._state(ctx).unlink(missing_ok=True)

"""`dojo train`: trigger the `fraud_training` DAG through Airflow's REST API and follow it.

Why through Airflow and not by calling the pipeline directly: the run then gets Airflow's
retries, logs, UI and history, exactly as a scheduled or alert-triggered run would; this
command is just one more client of the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit
from dojo.runtime.waiting import wait_until
from dojo.training.names import DAG_ID

if TYPE_CHECKING:
    from dojo.training.airflow_api import AirflowApi

STATE_STYLE = {"success": "green", "failed": "red", "upstream_failed": "red",
               "skipped": "dim", "running": "yellow", "up_for_retry": "yellow"}
DONE = {"success", "failed", "skipped", "upstream_failed", "removed"}

Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"])]


def _interval(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """Dates are UTC. Default: the last complete day, the interval a scheduled run takes now."""
    if end is None:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    start = (start.replace(tzinfo=UTC) if start.tzinfo is None else start) if start else (
        end - timedelta(days=1))
    return start, end


def _follow(api: AirflowApi, run_ids: list[str], timeout_s: float) -> dict[str, str]:
    """Poll the runs until they finish, with one progress bar per run; returns run -> state."""
    states: dict[str, str] = {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[now]}"))
    with Progress(*columns, console=console) as progress:
        bars = {run_id: progress.add_task(run_id, total=None, now="queued") for run_id in run_ids}

        def poll() -> bool:
            """Update every unfinished run's bar; True once all runs have finished."""
            for run_id in run_ids:
                if run_id in states:
                    continue
                tasks = api.task_instances(DAG_ID, run_id)
                done = sum(t["state"] in DONE for t in tasks)
                active = [t["task_id"] for t in tasks if t["state"] in ("running", "queued",
                                                                       "up_for_retry")]
                progress.update(bars[run_id], total=len(tasks) or None, completed=done,
                                now=", ".join(active) or "")
                state = api.get_run(DAG_ID, run_id)["state"]
                if state in ("success", "failed"):
                    states[run_id] = state
                    progress.update(bars[run_id], now=state)
            return len(states) == len(run_ids)

        if not wait_until(poll, timeout_s, first_pause_s=1.0, max_pause_s=1.0).ok:
            progress.stop()
            _explain_waiting(api, [r for r in run_ids if r not in states])
            raise fail(f"gave up following after {timeout_s:.0f} s; the run continues in "
                       f"Airflow: {api.base}/dags/{DAG_ID}")
    return states


def _explain_waiting(api: AirflowApi, run_ids: list[str]) -> None:
    """Why unfinished runs are not done: tasks waiting for a retry, with the last failure."""
    for run_id in run_ids:
        for t in api.task_instances(DAG_ID, run_id):
            if t["state"] != "up_for_retry":
                continue
            tries = t.get("try_number", 1)
            reason = api.failure_reason(DAG_ID, run_id, t["task_id"], tries)
            console.print(f"[yellow]{t['task_id']} is waiting to retry[/] (try {tries} of "
                          f"{t.get('max_tries', 0) + 1} failed): {reason}")


def _report(api: AirflowApi, run_id: str, state: str) -> None:
    tasks = api.task_instances(DAG_ID, run_id)
    style = STATE_STYLE.get(state, "")
    console.print(f"{DAG_ID} / {run_id}: [{style}]{state}[/]")  # a table title would wrap
    table = Table()
    table.add_column("task")
    table.add_column("state")
    table.add_column("tries", justify="right")
    for t in sorted(tasks, key=lambda t: t.get("start_date") or "9999"):
        style = STATE_STYLE.get(t["state"] or "", "")
        table.add_row(t["task_id"], f"[{style}]{t['state']}[/]", str(t.get("try_number", "")))
    console.print(table)
    for t in tasks:
        if t["state"] == "failed":
            reason = api.failure_reason(DAG_ID, run_id, t["task_id"], t.get("try_number", 1))
            console.print(f"[red]{t['task_id']} failed:[/] {reason}")
    publish = next((t["state"] for t in tasks if t["task_id"] == "publish"), None)
    if publish == "success":
        published = api.xcom(DAG_ID, run_id, "publish") or {}
        aliases = ", ".join(f"{k} -> v{v}" for k, v in published.get("aliases", {}).items())
        console.print(f"[green]registered[/] version {published.get('version')} "
                      f"(MLflow run {published.get('run_id')}); aliases: {aliases or 'none'}")
    elif publish == "skipped" and state == "success":
        console.print("This interval was already trained, so the run skipped training "
                      "(see the needs_training log); use --force to train it again.")


def follow_run(api: AirflowApi, run_id: str, timeout_s: float) -> str:
    """Follow one existing run (started by anyone, e.g. the retrain webhook) to its end and
    report its tasks and what it registered; returns its final state."""
    state = _follow(api, [run_id], timeout_s)[run_id]
    _report(api, run_id, state)
    return state


def train(
    start: Day = None,
    end: Day = None,
    backfill: Annotated[bool, typer.Option(
        "--backfill", help="One run per daily interval in [START, END) (Airflow backfill).")
    ] = False,
    rerun: Annotated[bool, typer.Option(
        "--rerun", help="If a run for this interval exists, clear it and run it again.")
    ] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Train even if the interval already has an MLflow run.")] = False,
    shuffle_labels: Annotated[bool, typer.Option(
        "--shuffle-labels", help="Drill: train on shuffled labels; the gates must refuse it.")
    ] = False,
    follow: Annotated[bool, typer.Option(
        "--follow/--no-follow", help="Wait for the run(s) and show progress.")] = True,
    timeout: Annotated[float, typer.Option(min=10, help="Seconds to follow before giving up.")
                       ] = 1800.0,
    check_inputs: Annotated[bool, typer.Option(
        "--check-inputs", help="Only run the DAG's first task (check_inputs) here, on the "
                               "interval's window: every day present, labels arrived. No "
                               "Airflow run.")] = False,
) -> None:
    """Train the fraud model for a data interval (default: yesterday, UTC) via Airflow."""
    from dojo.training.airflow_api import AirflowApi, AirflowApiError
    from dojo.training.errors import DependencyDown

    settings = settings_or_exit()
    begin, finish = _interval(start, end)
    if finish <= begin:
        raise fail(f"--end ({finish:%Y-%m-%d}) must be after --start ({begin:%Y-%m-%d})")
    if check_inputs:
        _check_inputs(begin, finish)
        return
    conf = {"force": force, "shuffle_labels": shuffle_labels}
    try:
        with AirflowApi(settings, progress=console.print) as api:
            dag = api.wait_for_dag(DAG_ID)
            if dag.get("is_paused"):
                api.unpause(DAG_ID)
                console.print(f"unpaused {DAG_ID} (new DAGs start paused)")
            run_ids = _start_runs(api, begin, finish, conf, backfill, rerun)
            if not follow:
                console.print(f"follow it at {api.base}/dags/{DAG_ID}")
                return
            states = _follow(api, run_ids, timeout)
            for run_id in run_ids:
                _report(api, run_id, states[run_id])
    except (DependencyDown, AirflowApiError) as error:
        raise fail(str(error)) from None
    if any(state != "success" for state in states.values()):
        raise typer.Exit(code=1)


def _check_inputs(start: datetime, end: datetime) -> None:
    """The DAG's `check_inputs` task on this interval's window, in this process.

    Why a local preflight: the task fails the same way inside Airflow, but only after the
    scheduler has picked the run up; this answers in a second, before a run is triggered.
    """
    from dojo.training.errors import InputsMissing
    from dojo.training.inputs import check_inputs
    from dojo.training.window import resolve_window

    settings = settings_or_exit()
    window = resolve_window(start, end, settings.train_lookback_days)
    days = window.days
    try:
        report = check_inputs(settings, window)
    except InputsMissing as error:
        raise fail(f"check_inputs failed: {error}") from None
    console.print(f"check_inputs: {len(days)} days {days[0]} .. {days[-1]} present, "
                  f"{report.rows:,} transactions, {report.labelled_rows:,} labelled by "
                  f"{window.interval_end:%Y-%m-%d %H:%M} UTC (fewest on one day: "
                  f"{min(report.rows_per_day.values()):,})")


def _start_runs(api: AirflowApi, start: datetime, end: datetime, conf: dict[str, Any],
                backfill: bool, rerun: bool) -> list[str]:
    from dojo.training.airflow_api import AirflowApiError

    if backfill:
        return _backfill(api, start, end, conf)
    run_id = f"train__{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}"
    try:
        api.trigger(DAG_ID, run_id, start, end, conf)
        console.print(f"triggered {run_id}: data interval {start:%Y-%m-%d %H:%M} .. "
                      f"{end:%Y-%m-%d %H:%M} UTC")
        return [run_id]
    except AirflowApiError as error:
        if error.status != 409:
            raise
    existing = api.run_at(DAG_ID, start)
    if existing is None:
        raise fail(f"Airflow refused run {run_id} as a duplicate but no run has logical date "
                   f"{start:%Y-%m-%d}; see {api.base}/dags/{DAG_ID}")
    found = existing["dag_run_id"]
    if rerun and (conf["force"] or conf["shuffle_labels"]):
        # a cleared run keeps its original params, so a run with new ones replaces it
        api.delete_run(DAG_ID, found)
        api.trigger(DAG_ID, run_id, start, end, conf)
        console.print(f"replaced {found} with {run_id} (new parameters: {conf})")
        return [run_id]
    if rerun:
        api.clear_run(DAG_ID, found)
        console.print(f"cleared {found}: it runs again (training is skipped if the interval "
                      "already has an MLflow run; add --force to train it again)")
    else:
        console.print(f"a run for this interval exists: {found} ({existing['state']}); "
                      "showing it (use --rerun to run it again)")
    return [found]


def _backfill(api: AirflowApi, start: datetime, end: datetime, conf: dict[str, Any]) -> list[str]:
    """Backfill the daily intervals in [start, end); intervals that have a run keep it."""
    # Airflow's to_date bounds the *logical dates* (interval starts), inclusively; the last
    # daily interval inside [start, end) starts one day before end.
    last = end - timedelta(days=1)
    intervals = (end - start).days
    planned = set(api.backfill_plan(DAG_ID, start, last, conf))
    existing = [r for r in api.runs(DAG_ID, start, end) if r["logical_date"] not in planned]
    kept = ", ".join(r["logical_date"][:10] for r in existing)
    if not planned:
        console.print(f"backfill: all {intervals} daily interval(s) from {start:%Y-%m-%d} to "
                      f"{end:%Y-%m-%d} already have a run ({kept}); nothing new to run. "
                      "Showing them.")
        return [r["dag_run_id"] for r in existing]
    created = api.backfill(DAG_ID, start, last, conf)
    runs = [r for r in api.runs(DAG_ID, start, end) if r["logical_date"] in planned]
    console.print(f"backfill {created['id']}: {intervals} daily interval(s) from "
                  f"{start:%Y-%m-%d} to {end:%Y-%m-%d}: {len(runs)} new run(s), one at a time"
                  + (f"; kept the existing run of {kept}" if existing else ""))
    return [r["dag_run_id"] for r in runs]

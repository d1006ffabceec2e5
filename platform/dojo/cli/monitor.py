"""`dojo monitor [run|reset|report|triggers]`: the drift monitor, its reports, retrain triggers."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

app = typer.Typer(
    name="monitor",
    help="Drift monitor (Evidently): windows of `predictions` and late `labels` against the "
         "champion's training snapshot; reports, Prometheus metrics, the retrain webhook.",
    invoke_without_command=True,
)


@app.callback()
def monitor(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(
        "--port", min=1, max=65535, help="Port (default DOJO_MONITOR_PORT).")] = None,
) -> None:
    """Without a subcommand: run the monitor in the foreground (what `make up` supervises)."""
    if ctx.invoked_subcommand is not None:
        return
    from dojo.monitoring.service import serve

    serve(settings_or_exit(), port=port)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_summary(data: dict[str, Any]) -> None:
    console.print(f"run {data['run_id']}: champion v{data['champion_version']}, "
                  f"{data['rows']} predictions in the window, status: {data['status']}")
    if data["status"] != "ok":
        return
    table = Table(title=None)
    for column in ("feature", "method", "score", "drift", "PSI", "PSI band"):
        table.add_column(column, justify="right" if column in ("score", "PSI") else "left")
    for f in [*data["features"], *([data["prediction"]] if data.get("prediction") else [])]:
        drift = "[red]DRIFT[/]" if f["drifted"] else "ok"
        table.add_row(f["feature"], f["method"], _fmt(f["score"]), drift, _fmt(f["psi"]),
                      f["psi_band"] or "-")
    console.print(table)
    new = {k: q["new_categories"] for k, q in data["quality"].items() if q.get("new_categories")}
    missing = {k: q["missing_share"] for k, q in data["quality"].items()
               if q.get("missing_share")}
    console.print(f"drift share {data['drift_share']:.2f}; drifted: "
                  f"{', '.join(data['drifted']) or 'none'}")
    console.print(f"data quality: new categories {new or 'none'}; missing {missing or 'none'}")
    perf = data.get("performance") or {}
    if perf.get("pr_auc") is None:
        console.print(f"performance: not yet ({perf.get('note', '')})")
    else:
        drop = " [red]PERFORMANCE DROP[/]" if perf.get("dropped") else ""
        console.print(f"performance on {perf['labelled']} labelled predictions: PR-AUC "
                      f"{_fmt(perf['pr_auc'])} (training {_fmt(perf.get('training_pr_auc'))}), "
                      f"recall at the operating precision {_fmt(perf['recall_at_precision'])} "
                      f"(training {_fmt(perf.get('training_recall_at_precision'))}){drop}")


@app.command()
def run() -> None:
    """Run the drift checks now and print the summary (asks the running monitor; without one,
    runs here on the monitor's window file)."""
    import httpx

    settings = settings_or_exit()
    url = f"http://{settings.host}:{settings.monitor_port}/run"
    try:
        response = httpx.post(url, timeout=300)
        response.raise_for_status()
        data = response.json()
        where = f"the monitor at {url}"
    except httpx.ConnectError:
        from dojo.monitoring import reports
        from dojo.monitoring.service import Monitor

        monitor = Monitor(settings)
        result = monitor.run_once()
        monitor.window.close()
        data = {**result.to_dict(), "dir": str(reports.run_dir(settings, result.run_id))}
        where = "this process (no monitor answered; `dojo up` starts one)"
    except httpx.HTTPError as error:
        raise fail(f"the monitor at {url} failed: {error}; see `dojo logs drift-monitor`") \
            from None
    print_summary(data)
    console.print(f"Ran in {where}. Report: {Path(data['dir']) / 'summary.html'}; "
                  f"next: `dojo monitor report --open`.")


@app.command()
def reset() -> None:
    """Start a new window now: drop the window's predictions and labels, keep the offsets.

    For a fresh start after a known change (a resolved incident, a replay about to begin), so
    the next run describes only the traffic that follows."""
    import httpx

    settings = settings_or_exit()
    url = f"http://{settings.host}:{settings.monitor_port}/window/reset"
    try:
        response = httpx.post(url, timeout=60)
        response.raise_for_status()
        dropped = response.json()["dropped"]
        where = f"the monitor at {url}"
    except httpx.ConnectError:
        from dojo.monitoring.service import open_window

        window = open_window(settings)
        dropped = window.reset().__dict__
        window.close()
        where = "the window file (no monitor answered)"
    except httpx.HTTPError as error:
        raise fail(f"the monitor at {url} failed: {error}; see `dojo logs drift-monitor`") \
            from None
    console.print(f"Window reset in {where}: dropped {dropped['predictions']} predictions and "
                  f"{dropped['labels_joined'] + dropped['labels_waiting']} labels; the topics' "
                  "offsets are kept, so only new traffic enters.")
    console.print("Next: send traffic (`dojo generate replay`), then `dojo monitor run`.")


@app.command()
def report(
    open_it: Annotated[bool, typer.Option("--open", help="Open it in a web browser.")] = False,
) -> None:
    """Print the newest report's summary (and where its HTML pages are)."""
    from dojo.monitoring import reports

    settings = settings_or_exit()
    newest = reports.newest(settings)
    if newest is None:
        raise fail("no monitor report yet: run `dojo monitor run`")
    print_summary(newest)
    page = Path(newest["dir"]) / reports.SUMMARY_HTML
    console.print(f"HTML: {page} (Evidently: {Path(newest['dir']) / reports.EVIDENTLY_HTML}); "
                  f"all runs: {reports.reports_dir(settings) / reports.INDEX}")
    if open_it:
        webbrowser.open(page.as_uri())


@app.command()
def triggers(
    since: Annotated[int | None, typer.Option(
        min=1, help="Only the records of the last N minutes.")] = None,
    wait: Annotated[float, typer.Option(
        min=0, help="Wait up to this many seconds for a record (within --since).")] = 0.0,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Follow the training run behind the newest record to its end.")
    ] = False,
) -> None:
    """Every alert that reached the retrain webhook, and what was done about it."""
    from datetime import UTC, datetime, timedelta

    from dojo.monitoring.retrain import TRIGGERED, TriggerRecord, read_records, records_path
    from dojo.runtime.waiting import wait_until

    settings = settings_or_exit()
    cutoff = None if since is None else datetime.now(UTC) - timedelta(minutes=since)

    def recent() -> list[TriggerRecord]:
        return [r for r in read_records(settings)
                if cutoff is None or datetime.fromisoformat(r.at) >= cutoff]

    records = wait_until(recent, wait, first_pause_s=1.0, max_pause_s=2.0).value if wait \
        else recent()
    within = "" if since is None else f" in the last {since} min"
    if not records:
        message = (f"No alert has reached the retrain webhook{within} "
                   f"({records_path(settings)}).")
        if wait:
            raise fail(f"{message} Is a `retrain: \"true\"` alert firing? `amtool alert "
                       "query` and `dojo logs alertmanager` show what Alertmanager sent.")
        console.print(message)
        return
    table = Table()
    for column in ("at", "alerts", "outcome", "DAG run", "detail"):
        table.add_column(column)
    for r in records[-50:]:
        table.add_row(r.at, ", ".join(r.alerts), r.outcome, r.dag_run_id or "-", r.detail)
    console.print(table)
    console.print(f"{len(records)} record(s){within} in {records_path(settings)}; a triggered "
                  "run becomes challenger if it passes the gates: `dojo model list`.")
    if follow:
        _follow_newest(settings, records[-1],
                       [r for r in read_records(settings) if r.outcome == TRIGGERED])


def _follow_newest(settings: Any, newest: Any, triggered: list[Any]) -> None:
    """Follow the run the newest record started, or the one whose cool-down held it back."""
    from dojo.cli.train import follow_run
    from dojo.monitoring.retrain import COOLING_DOWN, FAILED
    from dojo.training.airflow_api import AirflowApi, AirflowApiError
    from dojo.training.errors import DependencyDown

    if newest.outcome == FAILED:
        raise fail(f"the webhook could not start a run: {newest.detail}; see "
                   "`dojo logs drift-monitor` and `dojo logs airflow`")
    run_id = newest.dag_run_id
    if newest.outcome == COOLING_DOWN:
        if not triggered:
            return
        run_id = triggered[-1].dag_run_id
        console.print(f"{', '.join(newest.alerts)} was held back by the cool-down "
                      f"({newest.detail}); the run that started it, at {triggered[-1].at}:")
    if run_id is None:
        return
    try:
        with AirflowApi(settings) as api:
            state = follow_run(api, run_id, timeout_s=900)
    except (DependencyDown, AirflowApiError) as error:
        raise fail(str(error)) from None
    console.print("Next: `dojo model compare champion challenger`, then roll it out with "
                  "`dojo rollout start challenger`.")
    if state != "success":
        raise typer.Exit(code=1)

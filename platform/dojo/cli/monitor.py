"""`dojo monitor [run|report|triggers]`: the drift monitor, its reports and retrain triggers."""

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
def triggers() -> None:
    """Every alert that reached the retrain webhook, and what was done about it."""
    from dojo.monitoring.retrain import read_records, records_path

    settings = settings_or_exit()
    records = read_records(settings)
    if not records:
        console.print(f"No alert has reached the retrain webhook yet ({records_path(settings)}).")
        return
    table = Table()
    for column in ("at", "alerts", "outcome", "DAG run", "detail"):
        table.add_column(column)
    for r in records[-50:]:
        table.add_row(r.at, ", ".join(r.alerts), r.outcome, r.dag_run_id or "-", r.detail)
    console.print(table)
    console.print(f"{len(records)} record(s) in {records_path(settings)}; a triggered run "
                  "becomes challenger if it passes the gates: `dojo model list`.")

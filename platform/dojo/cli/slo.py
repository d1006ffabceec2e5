"""`dojo slo report`: the model server's latency and availability SLOs from Prometheus."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

app = typer.Typer(name="slo", help="Service level objectives of the model server.",
                  no_args_is_help=True)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


@app.command()
def report(
    window: Annotated[str, typer.Option(
        "--window", help="PromQL duration to report over: 5m, 1h, 7d.")] = "1h",
    show_queries: Annotated[bool, typer.Option(
        "--show-queries", help="Print the PromQL behind each number.")] = False,
) -> None:
    """SLIs, objectives and error budget left for /predict over a window."""
    from dojo.monitoring.slo import PrometheusUnavailable, slo_report

    if not re.fullmatch(r"\d+[smhdwy]", window):
        raise fail(f"--window: expected a PromQL duration like 5m, 1h or 7d, got {window!r}",
                   code=2)
    settings = settings_or_exit()
    try:
        result = slo_report(settings, window)
    except (PrometheusUnavailable, ValueError) as error:
        raise fail(str(error)) from None
    total = result.objectives[0].total
    console.print(f"/predict over the last {window}: {total:,.0f} requests "
                  f"(latency target {result.target_s * 1000:g} ms)")
    table = Table()
    for column in ("SLO", "objective", "SLI", "bad requests", "error budget left"):
        table.add_column(column, justify="left" if column == "SLO" else "right")
    for o in result.objectives:
        table.add_row(o.name, _pct(o.objective), _pct(o.sli), f"{o.total - o.good:,.0f}",
                      _pct(o.budget_left))
    console.print(table)
    if show_queries:
        for name, query in result.queries.items():
            console.print(f"{name}: {query}", soft_wrap=True)
    if not total:
        console.print("No /predict requests in the window: send traffic first.")
    console.print(f"From Prometheus at http://{settings.host}:{settings.prometheus_port}; the "
                  "alert rules for the same SLOs: DojoServingLatencyHigh, DojoServingErrorRate.")

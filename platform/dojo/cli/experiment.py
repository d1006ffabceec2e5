"""`dojo experiment run|compare`: an algorithm sweep tracked in MLflow, and its leaderboard.

`run` trains every algorithm on one point-in-time training set, one MLflow run each (nested
under a sweep run); `compare` ranks the runs with MLflow's own search API, the query a
teammate would type in the UI's search box.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

app = typer.Typer(name="experiment", no_args_is_help=True,
                  help="Experiment tracking: an algorithm sweep in MLflow, compared from the "
                       "terminal (lab 02).")

Experiment = Annotated[str | None, typer.Option(
    "--experiment", help="MLflow experiment (default: DOJO_SWEEP_EXPERIMENT).")]
# metric -> column header (short, so the table fits a terminal)
METRICS = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "recall_at_precision": "recall@P",
           "calibration_error": "calib err", "fit_seconds": "fit s", "latency_p95_ms": "p95 ms",
           "model_mb": "MB"}


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN: not logged
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@app.command()
def run(
    end: Annotated[datetime, typer.Option(
        formats=["%Y-%m-%d"], help="First day NOT included (UTC), like a data interval's end.")],
    days: Annotated[int, typer.Option(min=2, max=365, help="Days of history to use.")] = 14,
    algorithms: Annotated[str, typer.Option(
        help="Comma-separated; any of: prior, logreg, random_forest, hist_gbm.")
    ] = "prior,logreg,random_forest,hist_gbm",
    experiment: Experiment = None,
) -> None:
    """Train several algorithms on the same training set; one MLflow run each."""
    from dojo.training.errors import DataValidationError, DependencyDown, InputsMissing
    from dojo.training.experiment import compare_url, run_sweep, unknown_algorithms

    settings = settings_or_exit()
    # this command prints its own summary and the compare link; MLflow's per-run links are noise
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.getLogger("mlflow.utils.uv_utils").setLevel(logging.WARNING)  # "Detected uv project"
    names = [name.strip() for name in algorithms.split(",") if name.strip()]
    unknown = unknown_algorithms(names)
    if unknown or not names:
        raise fail(f"--algorithms: unknown {', '.join(unknown) or '(empty)'}; choose from "
                   "prior, logreg, random_forest, hist_gbm", code=2)
    name = experiment or settings.sweep_experiment
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            bar = progress.add_task("starting", total=None)
            sweep = run_sweep(settings, end.replace(tzinfo=UTC), days, names, name,
                              on_step=lambda step: progress.update(bar, description=step))
    except (DependencyDown, InputsMissing, DataValidationError) as error:
        raise fail(str(error)) from None
    table = Table(title=f"experiment {name}: {len(sweep.runs)} runs, best PR-AUC first "
                        f"({sweep.train_rows:,} training rows, {sweep.valid_rows:,} validation "
                        "rows, the newest by time)")
    for column in ("algorithm", "PR-AUC", "ROC-AUC", "recall@P", "fit s", "p95 ms", "MB",
                   "run id"):
        table.add_column(column, justify="left" if column in ("algorithm", "run id")
                         else "right")
    for found in sweep.runs:
        m = found.metrics
        table.add_row(found.name, _fmt(m["pr_auc"]), _fmt(m["roc_auc"]),
                      _fmt(m["recall_at_precision"]), _fmt(found.fit_seconds),
                      _fmt(m["latency_p95_ms"]), _fmt(m["model_mb"]), found.run_id)
    console.print(table)
    console.print(f"Logged under sweep run {sweep.parent_run_id} in experiment {name} "
                  f"(id {sweep.experiment_id}).")
    console.print("Compare them in the UI:")
    # on a line of its own and never wrapped: a URL broken over two lines cannot be clicked
    console.print(compare_url(settings, sweep.experiment_id, [r.run_id for r in sweep.runs]),
                  soft_wrap=True)
    console.print("Next: `dojo experiment compare`, or `mlflow experiments csv "
                  f"--experiment-id {sweep.experiment_id}`.")


@app.command()
def compare(
    metric: Annotated[str, typer.Option(help="Rank by this metric, highest first.")] = "pr_auc",
    filter_string: Annotated[str, typer.Option(
        "--filter", help="Extra MLflow search filter, e.g. \"metrics.roc_auc > 0.9\".")] = "",
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many runs.")] = 20,
    experiment: Experiment = None,
) -> None:
    """Rank every algorithm run of the experiment by METRIC (MLflow search_runs)."""
    from mlflow.exceptions import MlflowException

    from dojo.training.errors import DependencyDown
    from dojo.training.experiment import ALGORITHM_TAG, search

    settings = settings_or_exit()
    name = experiment or settings.sweep_experiment
    try:
        runs = search(settings, name, metric, filter_string)
    except DependencyDown as error:
        raise fail(str(error)) from None
    except MlflowException as error:
        first = str(error.message).splitlines()[0]
        raise fail(f"MLflow refused the search (experiment {name!r}, --filter "
                   f"{filter_string!r}): {first}", code=2) from None
    if runs.empty:
        raise fail(f"no algorithm runs in experiment {name!r} match; run `dojo experiment run "
                   "--end YYYY-MM-DD` first")
    if f"metrics.{metric}" not in runs.columns:
        logged = [c.removeprefix("metrics.") for c in runs.columns if c.startswith("metrics.")]
        raise fail(f"--metric: no run logged {metric!r}; logged: {', '.join(logged)}", code=2)
    shown = list(dict.fromkeys(m for m in (metric, *METRICS) if f"metrics.{m}" in runs.columns))
    table = Table(title=f"experiment {name}: {len(runs)} algorithm runs by {metric}")
    for column in ("algorithm", *shown, "run id"):
        table.add_column(METRICS.get(column, column), no_wrap=True,
                         justify="right" if column in shown else "left")
    for _, row in runs.head(limit).iterrows():
        table.add_row(str(row.get(f"tags.{ALGORITHM_TAG}", "?")),
                      *(_fmt(row[f"metrics.{m}"]) for m in shown), str(row["run_id"])[:8])
    console.print(table)
    console.print(f"The same query in the MLflow UI search box: tags.`dojo.kind` = 'algorithm'"
                  f"{' and ' + filter_string if filter_string else ''}, sorted by {metric}. "
                  f"UI: {settings.tracking_uri}")

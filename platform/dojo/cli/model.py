"""`dojo model list|show|compare|promote|rollback`: the MLflow model registry from the terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from dojo.settings import Settings

app = typer.Typer(
    name="model",
    help="Model registry: versions, aliases (champion / challenger / previous-champion), "
         "promotion and rollback. Registry stages are deprecated; aliases replace them "
         "(Staging -> challenger, Production -> champion).",
    no_args_is_help=True,
)

Version = Annotated[str, typer.Argument(help="Model version number, e.g. 3.")]


def _client() -> tuple[MlflowClient, Settings]:
    from dojo.training.errors import DependencyDown
    from dojo.training.tracking import client

    settings = settings_or_exit()
    try:
        return client(settings), settings
    except DependencyDown as error:
        raise fail(str(error)) from None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _registry_call(function: Callable[..., Any], *args: Any) -> Any:
    from dojo.training.registry import RegistryError

    try:
        return function(*args)
    except RegistryError as error:
        raise fail(str(error)) from None


@app.command("list")
def list_() -> None:
    """Every version, newest first, with its aliases, interval, gate and key metrics."""
    from dojo.training.registry import list_versions

    client, settings = _client()
    versions = _registry_call(list_versions, client, settings.registered_model)
    table = Table(title=f"registered model {settings.registered_model}")
    for column in ("version", "aliases", "data interval", "gate", "PR-AUC", "ROC-AUC",
                   "p95 ms", "created (UTC)"):
        table.add_column(column, overflow="fold")
    for v in versions:
        table.add_row(v.version, "\n".join(v.aliases) or "-", v.interval or "-",
                      v.tags.get("dojo.gate", "-"), _fmt(v.metrics.get("pr_auc"), 3),
                      _fmt(v.metrics.get("roc_auc"), 3),
                      _fmt(v.metrics.get("latency_p95_ms"), 1), f"{v.created:%Y-%m-%d %H:%M}")
    console.print(table)


@app.command()
def show(version: Version) -> None:
    """One version: aliases, tags, run, metrics and the data interval it was trained on."""
    from dojo.training.registry import get_version

    client, settings = _client()
    info = _registry_call(get_version, client, settings.registered_model, version)
    console.print(f"[bold]{settings.registered_model} v{info.version}[/]  aliases: "
                  f"{', '.join(info.aliases) or '(none)'}  run: {info.run_id}")
    console.print(f"model URI: models:/{settings.registered_model}/{info.version}   "
                  f"created {info.created:%Y-%m-%d %H:%M} UTC")
    table = Table(title="tags")
    table.add_column("tag")
    table.add_column("value", overflow="fold")
    for key, value in sorted(info.tags.items()):
        table.add_row(key, value)
    console.print(table)
    metrics = Table(title="metrics (validation)")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key, value in sorted(info.metrics.items()):
        metrics.add_row(key, _fmt(value))
    console.print(metrics)


@app.command("compare")
def compare_(first: Version, second: Version) -> None:
    """Metrics of two versions side by side, with the difference (second - first)."""
    from dojo.training.registry import compare

    client, settings = _client()
    rows = _registry_call(compare, client, settings.registered_model, first, second)
    table = Table(title=f"{settings.registered_model}: v{first} vs v{second}")
    for column in ("metric", f"v{first}", f"v{second}", "change"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, a, b in rows:
        change = "-" if a is None or b is None else f"{b - a:+,.4f}".rstrip("0").rstrip(".")
        table.add_row(metric, _fmt(a), _fmt(b), change)
    console.print(table)
    console.print("Each run's metrics are on its own validation window; to compare on the same "
                  "rows, the DAG's `vs_champion` gate scores the champion on the candidate's data.")


@app.command()
def promote(
    version: Version,
    force: Annotated[bool, typer.Option(
        "--force", help="Promote even if the version did not pass the gates.")] = False,
) -> None:
    """Make VERSION the champion; the replaced champion becomes previous-champion."""
    from dojo.training.registry import promote as do_promote

    client, settings = _client()
    changes = _registry_call(do_promote, client, settings.registered_model, version, force)
    if not changes:
        console.print(f"v{version} is already the champion; nothing changed.")
        return
    for change in changes:
        console.print(f"[green]changed[/] {change.describe()}")
    console.print(f"The model server picks up models:/{settings.registered_model}@champion on "
                  "its next reload. Undo with `dojo model rollback`.")


@app.command()
def rollback() -> None:
    """Move champion back to the version the current champion replaced."""
    from dojo.training.registry import rollback as do_rollback

    client, settings = _client()
    changes = _registry_call(do_rollback, client, settings.registered_model)
    for change in changes:
        console.print(f"[yellow]changed[/] {change.describe()}")

"""`dojo model list|show|compare|promote|rollback`: the MLflow model registry from the terminal."""

from __future__ import annotations

import os
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

Version = Annotated[str, typer.Argument(
    help="A version number (3) or an alias (champion, challenger, previous-champion).")]


def _client() -> tuple[MlflowClient, Settings]:
    from dojo.training.errors import DependencyDown
    from dojo.training.tracking import client

    settings = settings_or_exit()
    # `compare` downloads each run's gate report; MLflow would draw a progress bar per file
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return client(settings), settings
    except DependencyDown as error:
        raise fail(str(error)) from None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _interval(tag: str) -> str:
    """`2025-01-20T0000_2025-01-21T0000` -> `2025-01-20 → 01-21` (midnights, as the DAG makes)."""
    start, _, end = tag.partition("_")
    if not end:
        return tag or "-"
    start, end = start.removesuffix("T0000"), end.removesuffix("T0000")
    if start[:5] == end[:5]:
        end = end[5:]
    return f"{start} → {end}"


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
        table.add_column(column, overflow="fold", no_wrap=column != "created (UTC)")
    for v in versions:
        table.add_row(v.version, "\n".join(v.aliases) or "-", _interval(v.interval),
                      v.tags.get("dojo.gate", "-"), _fmt(v.metrics.get("pr_auc"), 3),
                      _fmt(v.metrics.get("roc_auc"), 3),
                      _fmt(v.metrics.get("latency_p95_ms"), 1), f"{v.created:%m-%d %H:%M}")
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
    """Metrics of two versions side by side (second - first), and which gates each passed."""
    from dojo.training.registry import compare

    client, settings = _client()
    result = _registry_call(compare, client, settings.registered_model, first, second)
    a, b = f"v{result.first.version}", f"v{result.second.version}"
    table = Table(title=f"{settings.registered_model}: {a} ({first}) vs {b} ({second})")
    for column in ("metric", a, b, "change"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, x, y in result.metrics:
        change = "-" if x is None or y is None else f"{y - x:+,.4f}".rstrip("0").rstrip(".")
        table.add_row(metric, _fmt(x), _fmt(y), change)
    console.print(table)
    gates = Table(title="gates (as each version's training run judged it)")
    for column in ("gate", a, b):
        gates.add_column(column, overflow="fold")
    for gate, checks in result.gates.items():
        gates.add_row(gate, *(_check(check) for check in checks))
    gates.add_row("[bold]overall[/]", *(_check_overall(v.tags) for v in (result.first,
                                                                          result.second)))
    console.print(gates)
    console.print("Each run's metrics are on its own validation window; to compare on the same "
                  "rows, the DAG's `vs_champion` gate scores the champion on the candidate's data."
                  f" Promote with `dojo model promote {second}`.")


def _check(check: dict | None) -> str:
    if check is None:
        return "-"
    mark = "[green]pass[/]" if check["passed"] else "[red]FAIL[/]"
    return f"{mark} {check['message']}"


def _check_overall(tags: dict[str, str]) -> str:
    from dojo.training.tracking import GATE_TAG

    gate = tags.get(GATE_TAG, "unknown")
    return {"passed": "[green]passed[/]", "failed": "[red]failed[/]"}.get(gate, gate)


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
        console.print(f"{version} is already the champion; nothing changed.")
        return
    for change in changes:
        console.print(f"[green]changed[/] {change.describe()}")
    console.print(f"The model server picks up models:/{settings.registered_model}@champion on "
                  "its next reload. Undo with `dojo model rollback`.")


@app.command()
def register(
    start: Annotated[str, typer.Option(help="Start of the data interval (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="End of the data interval (YYYY-MM-DD).")],
    force: Annotated[bool, typer.Option(
        "--force", help="Required: the run was refused by the gates.")] = False,
) -> None:
    """Register the model of a training run the gates refused (no alias moves)."""
    from datetime import date

    from dojo.training.registry import register_refused

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        interval = f"{first:%Y-%m-%d}T0000_{last:%Y-%m-%d}T0000"
    except ValueError as error:
        raise fail(f"--start/--end: {error}", code=2) from None
    if not force:
        raise fail("a refused run is registered only with --force (it did not pass the gates)",
                   code=2)
    client, settings = _client()
    version = _registry_call(register_refused, client, settings, interval)
    console.print(f"[yellow]registered[/] {settings.registered_model} v{version} from the refused "
                  f"run of {interval} (tag dojo.gate=failed); no alias moved. Deploying it "
                  f"needs `dojo deploy {version} --force`.")


@app.command()
def rollback() -> None:
    """Move champion back to the version the current champion replaced."""
    from dojo.training.registry import rollback as do_rollback

    client, settings = _client()
    changes = _registry_call(do_rollback, client, settings.registered_model)
    for change in changes:
        console.print(f"[yellow]changed[/] {change.describe()}")
    champion = changes[0]
    console.print(f"models:/{settings.registered_model}@champion is v{champion.after} again; "
                  f"v{champion.before} stays registered (tag dojo.rolled_back_at). Check with "
                  f"`dojo model list`; undo with `dojo model promote {champion.before}`.")

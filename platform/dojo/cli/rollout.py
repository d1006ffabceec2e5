"""`dojo rollout start|status`: shadow -> canary -> full with gates and automatic rollback."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

if TYPE_CHECKING:
    from dojo.settings import Settings

app = typer.Typer(
    name="rollout",
    help="Progressive delivery of a challenger: shadow, canary shares, then champion; a gate "
         "after each step (error rate, p99, score shift vs the champion) rolls back on failure.",
    no_args_is_help=True,
)


@app.command()
def start(
    version: Annotated[str, typer.Argument(
        help="A version number (4), an alias (challenger) or latest.")],
    step_seconds: Annotated[float | None, typer.Option(
        "--step-seconds", min=1, help="How long each step watches traffic "
        "(default DOJO_ROLLOUT_STEP_S).")] = None,
    traffic: Annotated[float, typer.Option(
        "--traffic", min=0, help="Also send this many generated requests/s to the server "
        "while the rollout runs (0: rely on real traffic).")] = 0.0,
) -> None:
    """Roll VERSION out: shadow, canary (DOJO_ROLLOUT_SHARES), full; roll back on a failed gate.

    Exit codes: 0 promoted to champion; 1 a gate failed and the rollout rolled back; 2 bad
    input (no such version, no champion, a rollout already running); 3 no model server.
    """
    from dojo.delivery.rollout import Rollout, RolloutError
    from dojo.delivery.server_api import ServerApi, ServerError
    from dojo.delivery.traffic import Traffic
    from dojo.training.errors import DependencyDown
    from dojo.training.tracking import client as mlflow_client

    settings = settings_or_exit()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    url = f"http://{settings.host}:{settings.serving_port}"
    say = lambda line: console.print(line, soft_wrap=True)  # noqa: E731
    load = None
    with ServerApi(url, settings.serving_admin_token) as server:
        try:
            rollout = Rollout(settings, mlflow_client(settings), server, say,
                              step_seconds or settings.rollout_step_s)
            state = rollout.prepare(version)
        except RolloutError as error:
            raise fail(str(error), code=error.code) from None
        except DependencyDown as error:
            raise fail(str(error), code=3) from None
        say(f"rollout of {settings.registered_model} v{state.version}: "
            + " -> ".join(step.name for step in state.steps))
        if traffic:
            load = Traffic(url, traffic).start()
            say(f"sending {traffic:g} generated requests/s to {url}/predict")
        try:
            code = rollout.run(state)
        except ServerError as error:
            raise fail(f"{error}; see `dojo rollout status`") from None
        finally:
            if load is not None:
                load.stop()
                say(f"traffic: {load.summary()}")
    say("See `dojo rollout status` and `dojo model list`.")
    if code:
        raise typer.Exit(code=code)


@app.command()
def status() -> None:
    """Where the last rollout stands: each step, its gates, and the registry's aliases now."""
    from dojo.delivery import rollout_state as rs

    settings = settings_or_exit()
    state = rs.load(settings.home)
    if state is None:
        console.print("no rollout yet. Start one: `dojo rollout start <VERSION>`")
        return
    shown = state.status
    if state.status == rs.RUNNING and not rs.still_running(state):
        shown = "interrupted (its process is gone; routing may still be on: check "
        shown += "`curl $URL/model`)"
    current = state.current
    console.print(f"rollout {state.model} v{state.version} (champion was v{state.champion}): "
                  f"{shown}; step {current.name if current else '-'}")
    table = Table(title="steps")
    for column in ("step", "status", "gates"):
        table.add_column(column, overflow="fold")
    for step in state.steps:
        gates = "; ".join(check["message"] for check in step.gates) or "-"
        table.add_row(step.name, step.status, gates)
    console.print(table)
    console.print(f"message: {state.message}")
    console.print(f"registry aliases now: {_aliases(settings)}")


def _aliases(settings: Settings) -> str:
    from dojo.training.errors import DependencyDown
    from dojo.training.tracking import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, alias_version
    from dojo.training.tracking import client as mlflow_client

    try:
        client = mlflow_client(settings)
        found = {alias: alias_version(client, settings.registered_model, alias)
                 for alias in (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)}
    except DependencyDown as error:
        return f"unknown ({error})"
    return ", ".join(f"{alias} v{version}" if version else f"{alias} (none)"
                     for alias, version in found.items())

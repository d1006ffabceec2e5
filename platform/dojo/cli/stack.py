"""`dojo up|down|status|logs|doctor|topics`: the local stack from the terminal."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit
from dojo.runtime import supervisor
from dojo.runtime.stack import ON_DEMAND, ComponentState, Stack, StackError

STATE_STYLE = {
    "healthy": "green", "external": "green", "unhealthy": "red",
    "stopped": "red", "planned": "dim", ON_DEMAND: "cyan",
}


def status_table(states: list[ComponentState]) -> Table:
    table = Table(title="mlops-dojo local stack")
    table.add_column("component", no_wrap=True)  # a name the learner types next
    table.add_column("URL / port", no_wrap=True)  # copied whole into a browser
    table.add_column("state", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for s in states:
        style = STATE_STYLE.get(s.state, "")
        table.add_row(s.name, s.url, f"[{style}]{s.state}[/]", s.detail)
    return table


def up() -> None:
    """Start the local stack, wait for every health check, print the URLs."""
    settings = settings_or_exit()
    started = time.monotonic()
    with console.status("starting the local stack…") as spinner:
        def progress(message: str) -> None:
            spinner.update(f"{message}…")
            console.log(message)

        try:
            states = Stack(settings).up(progress=progress)
        except StackError as error:
            raise fail(str(error)) from None
    console.print(status_table(states))
    console.print(
        f"Stack is up in {time.monotonic() - started:.1f} s (state in {settings.home})."
        f"{on_demand_note(states)} "
        "Next: `make lab-01`, `dojo doctor`, `make logs C=mlflow`, `make down`."
    )


def down() -> None:
    """Stop every component of the local stack (state is kept; `make clean` removes it)."""
    settings = settings_or_exit()
    stack = Stack(settings)
    if not stack.is_up():
        console.print("The stack is not running; nothing to stop.")
        return
    with console.status("stopping the local stack…"):
        clean = stack.down()
    if not clean:
        raise fail("supervisord did not exit within 30 s; see `ps -ef | grep supervisord`")
    console.print(f"Stopped every component. State kept in {settings.home}; "
                  "`make up` starts again, `make clean` removes it.")


def status() -> None:
    """Show each component, its URL and its state."""
    settings = settings_or_exit()
    states = Stack(settings).status()
    console.print(status_table(states))
    bad = [s.name for s in states if s.state in {"unhealthy", "stopped"}]
    if bad:
        console.print(f"Not healthy: {', '.join(bad)}. Next: `dojo doctor`.")
        raise typer.Exit(code=1)
    console.print(f"Every built component is healthy.{on_demand_note(states)} "
                  "Next: `make lab-01`.")


def on_demand_note(states: list[ComponentState]) -> str:
    """Which components wait for their first use, said after the summary line."""
    lazy = [s.name for s in states if s.state == ON_DEMAND]
    if not lazy:
        return ""
    return (f" Not started until first use: {', '.join(lazy)} (the first `dojo train` starts "
            "them; DOJO_AIRFLOW_START=with-stack starts them with `dojo up`).")


def logs(
    component: Annotated[str, typer.Argument(help="Component name; omit for all.")] = "",
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines to show first.")] = 40,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Keep following.")] = True,
) -> None:
    """Tail the log of one component (or all) with `tail -F`."""
    settings = settings_or_exit()
    stack = Stack(settings)
    if component:
        try:
            names = [stack.component(component).name]
        except StackError as error:
            raise fail(str(error)) from None
    else:
        names = [c.name for c in stack.components() if c.supervised] + ["supervisord"]
    paths = [str(supervisor.log_path(settings, n)) for n in names]
    present = [p for p in paths if os.path.exists(p)]
    if not present:
        raise fail(f"no logs yet under {settings.logs_dir}; start the stack with `make up`")
    args = ["tail", "-n", str(lines)] + (["-F"] if follow else []) + present
    os.execvp("tail", args)


def topics() -> None:
    """List Kafka topics with partitions and messages written."""
    from kafka.errors import KafkaError

    from dojo.runtime.kafka_admin import describe_topics

    settings = settings_or_exit()
    try:
        infos = describe_topics(settings)
    except (KafkaError, OSError) as error:
        raise fail(f"cannot reach Kafka at {settings.bootstrap_servers} "
                   f"({type(error).__name__}); run `dojo doctor`") from None
    table = Table(title=f"Kafka topics at {settings.bootstrap_servers}")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("messages", justify="right")
    for info in infos:
        table.add_row(info.name, str(info.partitions), f"{info.messages:,}")
    console.print(table)
    console.print("Counts are end offsets (all messages ever written). "
                  "Next: `dojo generate stream` to add events.")


def doctor() -> None:
    """Check every component, then the model (performance, drift, labels); for each failure
    print the likely cause and where to look."""
    from dojo.monitoring.doctor_checks import model_checks
    from dojo.runtime.doctor import run_doctor

    settings = settings_or_exit()
    lines = [*run_doctor(settings), *model_checks(settings)]
    table = Table(title="dojo doctor")
    explain = any(not line.ok or line.warn for line in lines)
    columns = ["section", "check", "", "detail"]
    columns += ["likely cause", "look further"] if explain else []
    for column in columns:
        table.add_column(column, overflow="fold")
    previous = ""
    for line in lines:
        mark = "[red]✘[/]" if not line.ok else "[yellow]![/]" if line.warn else "[green]✔[/]"
        section = line.section if line.section != previous else ""
        previous = line.section
        cells = [section, line.name, mark, line.detail]
        table.add_row(*cells, *([line.cause, line.look] if explain else []))
    console.print(table)
    failed = [line.name for line in lines if not line.ok]
    look_at = [line.name for line in lines if line.ok and line.warn]
    not_known = f" To look at (!, not failures): {', '.join(look_at)}." if look_at else ""
    if failed:
        console.print(f"[red]{len(failed)} problem(s):[/] {', '.join(failed)}. "
                      f"Fix the first one first: later checks often fail because of it."
                      f"{not_known}")
        raise typer.Exit(code=1)
    console.print(f"[green]All checks passed.[/]{not_known} Next: `dojo monitor report` for the "
                  "model, `make lab-01` for the platform.")

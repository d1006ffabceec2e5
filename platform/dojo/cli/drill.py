"""`dojo drill list|start|hint|check|reset NAME`: break the local stack on purpose, then fix it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dojo.cli.common import console, fail, settings_or_exit
from dojo.runtime.stack import StackError
from dojo.teaching.drills import engine, registry
from dojo.teaching.drills.base import DrillError
from dojo.teaching.drills.registry import UnknownDrill
from dojo.teaching.drills.state import load_active
from dojo.teaching.labs import exit_codes
from dojo.teaching.progress import ProgressError, load_progress, short_time

app = typer.Typer(help="Troubleshooting drills: inject a fault, diagnose it, fix it, verify.",
                  no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="Drill name (see `dojo drill list`).")]


def exit_for(error: Exception) -> typer.Exit:
    """Map engine errors to one line and the shared exit codes."""
    if isinstance(error, UnknownDrill | engine.DrillStateError):
        return fail(str(error), code=exit_codes.BAD_INPUT)
    if isinstance(error, engine.DrillPrerequisiteError):
        console.print(f"[yellow]skipped:[/] this drill {error}", soft_wrap=True)
        return typer.Exit(code=exit_codes.MISSING_PREREQUISITE)
    return fail(f"{error} (look: `dojo doctor`, `dojo status`)", code=exit_codes.FAILED)


HANDLED = (UnknownDrill, engine.DrillStateError, engine.DrillPrerequisiteError, DrillError,
            StackError)


@app.command("list")
def list_drills() -> None:
    """Every drill: name, what breaks, whether it is running, when you last fixed it here."""
    settings = settings_or_exit()
    try:
        verified = load_progress(settings.progress_path)["drills"]
    except ProgressError as error:
        raise fail(str(error), code=exit_codes.BAD_INPUT) from None
    active = load_active(settings)
    table = Table(title="mlops-dojo drills")
    # The name is what the learner types next: never folded mid-word, even at 80 columns.
    table.add_column("drill", no_wrap=True)
    for column in ("what breaks", "state", "fixed here"):
        table.add_column(column, overflow="fold")
    for name, cls in registry.discover().items():
        state = "[red]running[/]" if active and active.name == name else "-"
        done = short_time(verified.get(name, {}).get("verified_at"))
        table.add_row(name, cls.title, state, done)
    console.print(table)
    console.print("Each drill's runbook: labs/drills/DRILL.md. Next: `dojo drill start DRILL` "
                  "(one at a time), then `dojo doctor`; several at once on one clock: "
                  "`dojo gameday start` (lab 21).")


@app.command()
def start(name: Name) -> None:
    """Inject the fault into the running local stack; you are told only the symptom."""
    settings = settings_or_exit()
    try:
        with console.status(f"injecting {name}…"):
            drill = engine.start(settings, name)
    except HANDLED as error:
        raise exit_for(error) from None
    console.print(Panel(Text(drill.symptom), title=f"drill {name}: the symptom",
                        border_style="red", title_align="left"))
    console.print(f"Diagnose with `dojo doctor`. Stuck? `dojo drill hint {name}` "
                  f"({len(drill.hints)} hints). Fixed? `dojo drill check {name}`. "
                  f"Give up? `dojo drill reset {name}`.")


@app.command()
def hint(name: Name) -> None:
    """Show the next hint (each call reveals one more; the last one is the answer)."""
    settings = settings_or_exit()
    try:
        given = engine.next_hint(settings, name)
    except HANDLED as error:
        raise exit_for(error) from None
    if given.text is None:
        console.print(f"No more hints ({given.total} shown). The runbook has the whole story: "
                      f"{registry.get_drill(name).runbook}")
        return
    console.print(f"[bold]hint {given.number}/{given.total}:[/] ", end="")
    console.print(Text(given.text), soft_wrap=True)
    console.print(f"Next: try it, then `dojo drill check {name}`.")


@app.command()
def check(name: Name) -> None:
    """Verify the fix by observing the system (exit 0 fixed, 1 still broken)."""
    settings = settings_or_exit()
    try:
        with console.status("observing the stack…"):
            result = engine.check(settings, name)
    except HANDLED as error:
        raise exit_for(error) from None
    since = engine.duration(result.seconds)
    started = "`dojo gameday start`" if result.in_gameday else f"`dojo drill start {name}`"
    if not result.ok:
        console.print(Text(f"✗ still broken: {result.detail}", style="red"), soft_wrap=True)
        console.print(f"{since} since {started}. "
                      f"Next: `dojo doctor`, or `dojo drill hint {name}`.")
        raise typer.Exit(code=exit_codes.FAILED)
    console.print(Text(f"✓ fixed: {result.detail}", style="green"), soft_wrap=True)
    console.print(f"time to fix: {since} (from {started} to this check)")
    runbook = registry.get_drill(name).runbook
    if result.in_gameday:
        console.print(f"Recorded in {settings.progress_path}. Next: note it in your timeline, "
                      f"then `dojo gameday check` for the other faults; {runbook} has the "
                      "prevention for your report.", soft_wrap=True)
        return
    console.print(f"Recorded in {settings.progress_path}. Next: read {runbook} (prevention), "
                  f"then `dojo drill reset {name}` to close the drill, and rehearse the "
                  f"interview questions on it: `dojo interview --drill {name}`.", soft_wrap=True)


@app.command()
def reset(name: Name) -> None:
    """Undo the fault and bring the stack back to healthy, fixed or not."""
    settings = settings_or_exit()
    try:
        with console.status(f"resetting {name}…"):
            drill = engine.reset(settings, name)
    except HANDLED as error:
        raise exit_for(error) from None
    console.print(f"Drill {name} reset: the stack is healthy again. Runbook: {drill.runbook}. "
                  "Next: `dojo status`, or `dojo drill list` for another drill.")

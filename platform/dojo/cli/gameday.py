"""`dojo gameday start|status|check|report|reset`: several drills at once, timed (lab 21)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from dojo.cli.common import console, fail, settings_or_exit
from dojo.cli.drill import HANDLED, exit_for
from dojo.teaching.drills.engine import duration
from dojo.teaching.gameday import engine, report
from dojo.teaching.gameday.state import load_gameday, load_last_gameday
from dojo.teaching.labs import exit_codes

app = typer.Typer(help="Game day: several faults at once on one clock, then an incident report.",
                  no_args_is_help=True)


@app.command()
def start(
    drills: Annotated[str | None, typer.Option(
        "--drills", metavar="A,B,...",
        help=f"Drills to inject, comma-separated (default: {','.join(engine.DEFAULT_DRILLS)}).",
    )] = None,
) -> None:
    """Inject several faults into the running stack; you are told only their symptoms."""
    settings = settings_or_exit()
    try:
        names = engine.parse_drills(drills)
        with console.status(f"injecting {len(names)} faults…"):
            injected = engine.start(settings, names)
    except HANDLED as error:
        raise exit_for(error) from None
    for number, drill in enumerate(injected, start=1):
        console.print(Panel(Text(drill.symptom), title=f"game day, fault {number}: the symptom",
                            border_style="red", title_align="left"))
    console.print(f"Game day started: {len(injected)} faults, the clock runs. Diagnose with "
                  "`dojo doctor` and the runbooks (labs/drills/). Verify one fix with "
                  "`dojo drill check NAME`, all with `dojo gameday check`; "
                  "`dojo gameday status` shows the clock. Give up? `dojo gameday reset`.",
                  soft_wrap=True)


@app.command()
def status() -> None:
    """Which faults were seen fixed and how long the game day has run (observes nothing)."""
    settings = settings_or_exit()
    gameday = load_gameday(settings)
    if gameday is None:
        console.print("No game day is running. Next: `dojo gameday start`.")
        return
    for number, fault in enumerate(gameday.drills, start=1):
        state = ("open" if fault.fixed_after is None
                 else f"fixed after {duration(fault.fixed_after)} ({fault.name})")
        console.print(f"fault {number}: {state}")
    console.print(f"{duration(time.time() - gameday.started_at)} since `dojo gameday start`. "
                  "Next: `dojo gameday check` observes every fault now.")


@app.command()
def check() -> None:
    """Observe every fault now (exit 0 when all are fixed, 1 while one is still broken)."""
    settings = settings_or_exit()
    try:
        with console.status("observing the stack…"):
            faults, elapsed = engine.check(settings)
    except HANDLED as error:
        raise exit_for(error) from None
    for fault in faults:
        if fault.ok:
            since = duration(fault.fixed_after if fault.fixed_after is not None else elapsed)
            line = Text(f"✓ fault {fault.number} ({fault.name}) fixed after {since}: "
                        f"{fault.detail}", style="green")
        else:
            line = Text(f"✗ fault {fault.number} still broken: {fault.detail}", style="red")
        console.print(line, soft_wrap=True)
    broken = [fault.number for fault in faults if not fault.ok]
    if broken:
        console.print(f"{len(broken)} of {len(faults)} faults still broken after "
                      f"{duration(elapsed)}. Next: `dojo doctor`, the runbooks, or "
                      f"`dojo drill hint NAME` once you know the fault.")
        raise typer.Exit(code=exit_codes.FAILED)
    restored = max(fault.fixed_after or elapsed for fault in faults)
    console.print(f"Service restored: all {len(faults)} faults fixed, time to restore: "
                  f"{duration(restored)} (from `dojo gameday start` to the last fix). Next: "
                  f"fill in a copy of {report.TEMPLATE.relative_to(report.REPO_ROOT)} and "
                  "check it with `dojo gameday report FILE`, then `dojo gameday reset`.",
                  soft_wrap=True)


@app.command("report")
def report_check(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="Your incident report (Markdown).")],
) -> None:
    """Check an incident report is filled in: one line per problem, exit 0 when none."""
    settings = settings_or_exit()
    gameday = load_last_gameday(settings)
    if gameday is None:
        raise fail("no game day has run here, so there is nothing to report on: "
                   "`dojo gameday start` first", code=exit_codes.BAD_INPUT)
    found = report.check_file(path, gameday.names)
    for problem in found:
        console.print(Text(f"✗ {problem}", style="red"), soft_wrap=True)
    if found:
        console.print(f"{len(found)} problem(s) in {path}. Next: fill in what is named above "
                      f"and run `dojo gameday report {path}` again.", soft_wrap=True)
        raise typer.Exit(code=exit_codes.FAILED)
    console.print(Text(f"✓ incident report {path} is filled in: every section, a timeline with "
                       f"times, the root cause of all {len(gameday.names)} faults, owned "
                       "follow-ups.", style="green"), soft_wrap=True)
    console.print("Next: share it and follow up the actions; `dojo gameday reset` when done.")


@app.command()
def reset() -> None:
    """Undo every fault of the game day and bring the stack back to healthy, fixed or not."""
    settings = settings_or_exit()
    try:
        with console.status("resetting the game day…"):
            names = engine.reset(settings)
    except HANDLED as error:
        raise exit_for(error) from None
    if not names:
        console.print("No game day is running: nothing to reset. Next: `dojo gameday start`.")
        return
    console.print(f"Game day reset: {', '.join(names)} undone, the stack is healthy again. "
                  "Runbooks: labs/drills/. Next: `dojo status`, and `dojo gameday report "
                  "FILE` still checks your report against this game day.", soft_wrap=True)

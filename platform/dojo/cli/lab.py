"""`dojo lab list|run|show`: the numbered labs from the terminal (`make lab-NN` calls `run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from dojo.cli.common import console, fail, settings_or_exit
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import LABS_DIR, CatalogError, find_lab, load_catalog
from dojo.teaching.labs.runner import LabRunner
from dojo.teaching.progress import ProgressError, load_progress, short_time

app = typer.Typer(help="The hands-on labs: list them, run one end to end, show its steps.",
                  no_args_is_help=True)

LabsDir = Annotated[Path, typer.Option("--labs-dir", hidden=True, help="Where the labs live.")]
STATUS_STYLE = {"ready": "green", "planned": "dim"}


@app.command("list")
def list_labs(labs_dir: LabsDir = LABS_DIR) -> None:
    """Every lab: number, title, what it needs, whether it is built, when it last passed here."""
    settings = settings_or_exit()
    try:
        labs = load_catalog(labs_dir)
        verified = load_progress(settings.progress_path)["labs"]
    except (CatalogError, ProgressError) as error:
        raise fail(str(error), code=exit_codes.BAD_INPUT) from None
    table = Table(title="mlops-dojo labs")
    for column in ("lab", "title", "needs", "status", "verified here"):
        table.add_column(column, overflow="fold")
    for lab in labs:
        done = short_time(verified.get(lab.id, {}).get("verified_at"))
        table.add_row(lab.id, lab.title, ", ".join(lab.needs) or "-",
                      f"[{STATUS_STYLE[lab.status]}]{lab.status}[/]", done)
    console.print(table)
    ready = sum(lab.ready for lab in labs)
    console.print(f"{len(labs)} labs, {ready} ready. Next: `make lab-01` "
                  f"(or `dojo lab run 01 --interactive`); the guide is {labs_dir}/README.md.")


@app.command("show")
def show(
    lab_id: Annotated[str, typer.Argument(metavar="NN", help="Lab number, e.g. 01.")],
    labs_dir: LabsDir = LABS_DIR,
) -> None:
    """Print a lab's steps (the commands `dojo lab run` executes) without running them."""
    try:
        lab = find_lab(lab_id, labs_dir)
    except CatalogError as error:
        raise fail(str(error), code=exit_codes.BAD_INPUT) from None
    console.print(f"[bold]Lab {lab.id}: {lab.title}[/] (needs: {', '.join(lab.needs) or '-'}, "
                  f"{lab.status})")
    for index, step in enumerate(lab.steps, start=1):
        console.print(f"{index}. [bold]{step.name}[/]" + (f": {step.shows}" if step.shows else ""))
        lines = step.run.strip().splitlines()
        for number, line in enumerate(lines):
            prefix = "   $ " if number == 0 else "     "
            console.print(Text(prefix + line, style="cyan"), soft_wrap=True)
    console.print(f"Read along in {lab.readme}; run it with `make lab-{lab.id}`.")


@app.command("run")
def run(
    lab_id: Annotated[str, typer.Argument(metavar="NN", help="Lab number, e.g. 01.")],
    interactive: Annotated[bool, typer.Option(
        "--interactive", "-i", help="Pause before each step so you can read along.")] = False,
    labs_dir: LabsDir = LABS_DIR,
) -> None:
    """Run a lab's steps against the local stack and check every outcome.

    Exit codes: 0 passed, 1 a step failed, 2 bad input, 3 a prerequisite (Docker, a cluster)
    is missing, 4 the lab is not built yet, 130 stopped by you.
    """
    settings = settings_or_exit()
    try:
        lab = find_lab(lab_id, labs_dir)
    except CatalogError as error:
        raise fail(str(error), code=exit_codes.BAD_INPUT) from None
    if lab.ready:
        console.print(f"[bold]Lab {lab.id}: {lab.title}[/]  ({len(lab.steps)} steps; "
                      f"guide: {lab.readme})")
    runner = LabRunner(settings, console, interactive=interactive)
    try:
        report = runner.run(lab)
    except KeyboardInterrupt:
        raise fail("stopped by you (Ctrl-C); not recorded", code=exit_codes.INTERRUPTED) from None
    if report.exit_code == exit_codes.OK:
        console.print(f"[bold green]✓[/] {report.message}. Next: the `Next:` link at the end "
                      f"of {lab.readme}, or `dojo interview --lab {lab.id}`.", soft_wrap=True)
        return
    if report.exit_code == exit_codes.MISSING_PREREQUISITE:
        # One line, never wrapped: tests/labs turns it into the pytest skip reason.
        console.print(f"[yellow]skipped:[/] {report.message}", soft_wrap=True)
        raise typer.Exit(code=report.exit_code)
    raise fail(report.message, code=report.exit_code)

"""`dojo progress`: what this machine has verified (labs, drills, interview questions) and when.

Register with ``app.command()(progress)`` in ``dojo/cli/main.py``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit
from dojo.teaching.drills import registry
from dojo.teaching.interview import InterviewFormatError, load_questions
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import CatalogError, load_catalog
from dojo.teaching.progress import ProgressError, load_progress, short_time


def progress(
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw progress record.")] = False,
) -> None:
    """Which labs passed and which drills were fixed on this machine, and when."""
    settings = settings_or_exit()
    try:
        record = load_progress(settings.progress_path)
        labs = load_catalog()
        questions = load_questions()
        drills = list(registry.discover())
    except (ProgressError, CatalogError, InterviewFormatError) as error:
        raise fail(str(error), code=exit_codes.BAD_INPUT) from None
    if as_json:
        console.print_json(json.dumps(record))
        return
    table = Table(title=f"progress on this machine ({settings.progress_path})")
    for column in ("kind", "name", "verified here", "detail"):
        table.add_column(column, overflow="fold")
    for lab in labs:
        if not lab.ready:
            continue
        entry = record["labs"].get(lab.id, {})
        seconds = f"{entry['seconds']} s" if "seconds" in entry else ""
        table.add_row("lab", f"{lab.id} {lab.title}", short_time(entry.get("verified_at")), seconds)
    for name in drills:
        entry = record["drills"].get(name, {})
        seconds = f"fixed in {entry['seconds']} s" if "seconds" in entry else ""
        table.add_row("drill", name, short_time(entry.get("verified_at")), seconds)
    console.print(table)
    ready = [lab.id for lab in labs if lab.ready]
    done_labs = sum(lab_id in record["labs"] for lab_id in ready)
    done_drills = sum(name in record["drills"] for name in drills)
    reviewed = sum(q.key in record["interview"] for q in questions)
    console.print(
        f"labs {done_labs}/{len(ready)} ready ones passed · drills {done_drills}/"
        f"{len(drills)} fixed · interview questions {reviewed}/{len(questions)} reviewed. "
        "Next: `dojo lab list`, `dojo drill list`, `dojo interview --unreviewed`."
    )

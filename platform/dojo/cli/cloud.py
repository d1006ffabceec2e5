"""`dojo cloud`: the platform as managed-cloud configuration (lab 09), a dry run checked offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

app = typer.Typer(help="The same platform on Vertex AI and SageMaker: generated, checked, not "
                       "applied (lab 09).")

CLOUDS = ("vertex", "sagemaker")


@app.command("map")
def map_components() -> None:
    """Each local component, its managed counterparts, and what changes."""
    from dojo.teaching.cloud.mapping import COMPONENTS

    table = Table(title="local component -> managed counterpart", show_lines=True)
    for column in ("local", "Vertex AI / Google Cloud", "SageMaker / AWS", "what changes"):
        table.add_column(column, overflow="fold")
    for row in COMPONENTS:
        table.add_row(row.local, row.vertex, row.sagemaker, row.changes)
    console.print(table)
    console.print(f"{len(COMPONENTS)} components mapped. Next: `dojo cloud plan` writes and "
                  "checks the cloud configurations.")


@app.command("plan")
def plan(
    cloud: Annotated[str, typer.Option(
        "--cloud", help=f"One of {', '.join(CLOUDS)}, or all.")] = "all",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the JSON files (default: DOJO_HOME/cloud).")] = None,
) -> None:
    """Generate each cloud's resources from the settings and check them with the SDKs' types."""
    from dojo.teaching.cloud.clouds import build_plan
    from dojo.teaching.cloud.plan import PlanError, write_plan

    if cloud not in (*CLOUDS, "all"):
        raise fail(f"--cloud must be one of {', '.join(CLOUDS)} or all, not {cloud!r}", code=2)
    settings = settings_or_exit()
    out_dir = out or settings.home / "cloud"
    chosen = CLOUDS if cloud == "all" else (cloud,)
    problems, checked, unchecked, written = [], 0, 0, []
    for name in chosen:
        console.print(f"[bold]{name}[/]: building the plan from the settings "
                      "(the SDK's types load in a few seconds)")
        resources = build_plan(name, settings)
        for resource in resources:
            try:
                resource.validate()
            except PlanError as error:
                problems.append(str(error))
                console.print(f"  [red]✗[/] {resource.name:<24} {resource.kind}: {error}",
                              soft_wrap=True, markup=False)
                continue
            if resource.checked_by:
                checked += 1
                mark, status = "✓", f"checked: {resource.checked_by}"
            else:
                unchecked += 1
                mark, status = "-", resource.note or "not checked"
            console.print(f"  {mark} {resource.name:<24} {resource.kind:<47} {status}",
                          soft_wrap=True, markup=False)
        written += write_plan(resources, out_dir)
    if problems:
        raise fail(f"{len(problems)} resource(s) rejected by the SDK types; first: "
                   f"{problems[0]}")
    console.print(f"{len(written)} resources written to {out_dir} ({checked} checked against the "
                  f"SDKs' types, {unchecked} without a type to check). Nothing was sent to a "
                  "cloud. Next: open a file there, or `dojo cloud map`.", soft_wrap=True)

"""The `dojo` command: one entry point for the stack, the data, the labs and the drills."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
import typer.rich_utils

from dojo.cli import stack
from dojo.cli.common import output_width
from dojo.settings import TELEMETRY_OFF

# Help screens follow the width rule of every other output (see dojo.cli.common).
typer.rich_utils.MAX_WIDTH = output_width(sys.stdout)

app = typer.Typer(
    name="dojo",
    help="mlops-dojo: a runnable MLOps platform with hands-on labs (real-time fraud scoring).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mlops-dojo {version('mlops-dojo')}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """mlops-dojo: start with `dojo up`, then `dojo lab list`."""
    # This machine reaches package registries only, and learners' laptops should not phone
    # home from a lab: switch off the libraries' usage telemetry for every command.
    for variable, value in TELEMETRY_OFF.items():
        os.environ.setdefault(variable, value)


app.command()(stack.up)
app.command()(stack.down)
app.command()(stack.status)
app.command()(stack.logs)
app.command()(stack.doctor)
app.command()(stack.topics)

# [sub-apps] other stages register their command groups below, one line each
from dojo.cli import (  # noqa: E402
    cloud,
    demo,
    deploy,
    design,
    drill,
    experiment,
    features,
    gameday,
    generate,
    interview,
    lab,
    leakage,
    model,
    monitor,
    progress,
    rollout,
    serve,
    slo,
    train,
)
from dojo.cli import stream as stream_cli  # noqa: E402

app.add_typer(generate.app, name="generate")
app.command(name="stream")(stream_cli.stream)
app.add_typer(features.app, name="features")
app.command(name="leakage")(leakage.leakage)
app.add_typer(experiment.app, name="experiment")
app.command(name="train")(train.train)
app.add_typer(model.app, name="model")
app.add_typer(monitor.app, name="monitor")
app.add_typer(slo.app, name="slo")
app.add_typer(design.app, name="design")
app.add_typer(lab.app, name="lab")
app.add_typer(drill.app, name="drill")
app.add_typer(gameday.app, name="gameday")
app.command(name="interview")(interview.interview)
app.command(name="progress")(progress.progress)
app.add_typer(cloud.app, name="cloud")
app.command(name="serve")(serve.serve)
app.command(name="deploy")(deploy.deploy)
app.add_typer(rollout.app, name="rollout")
app.command(name="demo")(demo.demo)

"""The `dojo` command: one entry point for the stack, the data, the labs and the drills."""

from __future__ import annotations

import typer

from dojo.cli import stack

app = typer.Typer(
    name="dojo",
    help="mlops-dojo: a runnable MLOps platform with hands-on labs (real-time fraud scoring).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.command()(stack.up)
app.command()(stack.down)
app.command()(stack.status)
app.command()(stack.logs)
app.command()(stack.doctor)
app.command()(stack.topics)

# [sub-apps] other stages register their command groups below, one line each

"""`dojo serve`: run the model server in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from dojo.cli.common import settings_or_exit


def serve(
    port: Annotated[int | None, typer.Option(
        "--port", min=1, max=65535, help="Port (default DOJO_SERVING_PORT).")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", help="Interface to bind (default DOJO_HOST; 0.0.0.0 in a container).")] = None,
) -> None:
    """Score transactions over HTTP with the registry's champion (FastAPI on port 8000)."""
    from dojo.serving.server import run

    run(settings_or_exit(), port=port, host=host)

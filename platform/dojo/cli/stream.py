"""`dojo stream`: run the stream processor in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from dojo.cli.common import console, settings_or_exit


def stream(
    group_id: Annotated[str | None, typer.Option(
        "--group-id", help="Consumer group (default DOJO_STREAM_GROUP_ID).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="Events per batch (default DOJO_STREAM_BATCH_SIZE).")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="Port of /metrics (default DOJO_STREAM_METRICS_PORT; 0 = off).",
    )] = None,
    until_idle: Annotated[float | None, typer.Option(
        "--until-idle", help="Exit after this many seconds without events (labs, tests).",
    )] = None,
) -> None:
    """Consume `transactions`, push windowed features to Feast, DLQ bad events."""
    from dojo.features.store import quiet_feast_warnings
    from dojo.features.stream_metrics import StreamMetrics
    from dojo.features.stream_processor import StreamProcessor

    quiet_feast_warnings()

    settings = settings_or_exit()
    if batch_size is not None:
        settings = settings.model_copy(update={"stream_batch_size": batch_size})
    port = settings.stream_metrics_port if metrics_port is None else metrics_port
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        # Only set a flag: the loop finishes the batch in hand, commits and leaves the group.
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    metrics = StreamMetrics()
    if port:
        metrics.serve(settings.host, port)
        console.print(f"metrics on http://{settings.host}:{port}/metrics")
    processor = StreamProcessor(settings, metrics=metrics, group_id=group_id)
    try:
        totals = processor.run(stop, until_idle_s=until_idle)
    finally:
        metrics.close()
    console.print(f"stream stopped: {totals.applied:,} applied, {totals.duplicates:,} "
                  f"duplicates, {totals.dlq:,} to the DLQ")


if __name__ == "__main__":  # `python -m dojo.cli.stream`, used by tests that kill the process
    typer.run(stream)

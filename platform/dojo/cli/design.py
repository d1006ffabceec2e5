"""`dojo design measure|plan|writeup`: a system design backed by measurements of this stack."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, err_console, fail, settings_or_exit
from dojo.settings import Settings

if TYPE_CHECKING:  # the capacity code is imported inside the commands, so `--help` starts fast
    from dojo.monitoring.capacity import Measurements

app = typer.Typer(name="design", no_args_is_help=True,
                  help="Capacity and trade-offs of the fraud-scoring design, measured (lab 12).")

FileOption = Annotated[Path | None, typer.Option(
    "--from", help="Measurement file; default: $DOJO_HOME/design/measurements.json.")]
PeakOption = Annotated[float, typer.Option(
    "--peak-tps", help="Peak transactions per second the design must carry.")]
HeadroomOption = Annotated[float, typer.Option(
    "--headroom", help="Share of each component's capacity kept unused, in [0, 1).")]


def default_file(settings: Settings) -> Path:
    return settings.home / "design" / "measurements.json"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


@app.command()
def measure(
    rates: Annotated[str, typer.Option(
        "--rates", help="Requests/s of each load step, increasing, comma-separated.")
    ] = "10,20,40,80",
    seconds: Annotated[float, typer.Option(
        "--seconds", min=1.0, max=30.0, help="Seconds of load per step.")] = 4.0,
    stream_events: Annotated[int, typer.Option(
        "--stream-events", min=0, max=20_000,
        help="Transactions sent to the stream in one burst (0: skip the stream's rate).")
    ] = 2000,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the JSON; default: $DOJO_HOME/design/measurements.json.")
    ] = None,
) -> None:
    """Load one model-server replica in steps, time its stages, and measure the stream."""
    from dojo.monitoring.capacity import PlanInputError, parse_rates
    from dojo.monitoring.capacity_measure import StackNotReady
    from dojo.monitoring.capacity_measure import measure as run_measure

    try:
        ladder = parse_rates(rates)
    except PlanInputError as error:
        raise fail(str(error), code=2) from None
    settings = settings_or_exit()
    try:
        result = run_measure(settings, ladder, seconds, stream_events,
                             lambda line: err_console.print(line, markup=False))
    except StackNotReady as error:
        raise fail(str(error)) from None
    target = out or default_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(result.to_json())

    table = Table(title=f"one replica, latency objective p99 <= "
                        f"{result.latency_target_s * 1000:g} ms")
    for column in ("offered/s", "achieved/s", "ok/sent", "p50 ms", "p99 ms", "server ms",
                   "features ms", "model ms", "rest ms", "rows/batch"):
        table.add_column(column, justify="right")
    for step in result.steps:
        s = step.stages
        table.add_row(f"{step.offered_rps:g}", f"{step.achieved_rps:g}", f"{step.ok}/{step.sent}",
                      _ms(step.p50_s), _ms(step.p99_s),
                      *((_ms(s.request_s), _ms(s.feature_fetch_s), _ms(s.model_s),
                         _ms(s.rest_s), f"{s.rows_per_batch:.1f}") if s else ("-",) * 5))
    console.print(table)
    knee = (f"knee: {result.knee_rps:g} requests/s per replica (the highest step within the "
            "objective)" if result.knee_rps is not None
            else "knee: none of the steps met the objective (try lower --rates)")
    console.print(knee)
    console.print(f"stream: `transactions` has {result.partitions} partitions; group "
                  f"{result.group} has {len(result.members)} member(s)")
    console.print(f"stream: the measured processor owns partitions "
                  f"{_list(result.processor_partitions)}")
    if result.stream_busy_eps:
        console.print(f"stream: {result.stream_events} events consumed in "
                      f"{result.stream_drain_s:.1f} s; one consumer processes "
                      f"{result.stream_busy_eps:.0f} events/s of batch time")
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(f"Wrote {target}. Next: `dojo design plan --peak-tps <PEAK>` turns it into a "
                  "capacity plan.")


@app.command()
def partitions(
    consumers: Annotated[int, typer.Option(
        "--consumers", min=1, max=32, help="Consumers to start in a throwaway group.")] = 7,
) -> None:
    """Join N consumers to `transactions` and show who owns which partition (extras idle)."""
    from dojo.monitoring.capacity_measure import StackNotReady, join_consumers

    settings = settings_or_exit()
    try:
        owned = join_consumers(settings, consumers,
                               progress=lambda line: err_console.print(line, markup=False))
    except StackNotReady as error:
        raise fail(str(error)) from None
    table = Table(title=f"{consumers} consumers, one group, topic `transactions`")
    table.add_column("consumer")
    table.add_column("partitions")
    for name, parts in owned.items():
        table.add_row(name, _list(parts) if parts else "none (idle)")
    console.print(table)
    idle = sum(1 for parts in owned.values() if not parts)
    console.print(f"{idle} of {consumers} consumers idle: a partition has one owner per group, "
                  "so parallelism stops at the partition count. The group was deleted; "
                  "`dojo design measure` measures what one consumer sustains.")


def _list(values: list[int]) -> str:
    return ",".join(str(v) for v in values) or "none"


def _plan_inputs(settings: Settings, peak_tps: float, headroom: float, source: Path | None
                 ) -> tuple[Path, Measurements]:
    """The options checked, then the measurement file read: one line and exit 2 on either."""
    from dojo.monitoring.capacity import PlanInputError, check_plan_inputs, load_measurements

    path = source or default_file(settings)
    try:
        check_plan_inputs(peak_tps, headroom)
        return path, load_measurements(path)
    except PlanInputError as error:
        raise fail(str(error), code=2) from None


@app.command()
def plan(
    peak_tps: PeakOption,
    headroom: HeadroomOption = 0.3,
    source: FileOption = None,
) -> None:
    """Replicas, partitions and in-flight requests for a peak, each with its measurement."""
    from dojo.monitoring.capacity import capacity_plan

    path, measurements = _plan_inputs(settings_or_exit(), peak_tps, headroom, source)
    lines = capacity_plan(measurements, peak_tps, headroom)
    table = Table(title=f"capacity plan for {peak_tps:g} tx/s, headroom {headroom:.0%}")
    for column in ("quantity", "value", "how", "measured by"):
        table.add_column(column)
    for line in lines:
        table.add_row(line.name, line.value, line.how, line.source)
    console.print(table)
    console.print(f"From {path}. Next: `dojo design writeup --peak-tps {peak_tps:g}` fills "
                  "these numbers into the lab's design template.")


@app.command()
def writeup(
    peak_tps: PeakOption,
    headroom: HeadroomOption = 0.3,
    source: FileOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write the write-up; default: $DOJO_HOME/design/design.md.")
    ] = None,
) -> None:
    """The 45-minute design template with the measured numbers filled in."""
    from dojo.teaching.design_writeup import TEMPLATE, fill, values_for

    settings = settings_or_exit()
    _, measurements = _plan_inputs(settings, peak_tps, headroom, source)
    values = values_for(measurements, peak_tps, headroom)
    text, left = fill(TEMPLATE.read_text(), values)
    target = out or settings.home / "design" / "design.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    console.print(f"Wrote {target}: {len(values)} measured numbers filled in, "
                  f"{left} TODOs left for your reasoning. Next: answer them, then "
                  "defend the design aloud in 45 minutes (`dojo interview --lab 12`).")

"""`dojo demo [--interactive]`: the narrated ~5-minute tour of the running platform."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated

import typer

from dojo.cli.common import console, settings_or_exit
from dojo.teaching.demo import tour
from dojo.teaching.demo_runner import DemoContext, Outcome, Reporter, Step, exit_code, run_tour


class ConsoleReporter(Reporter):
    """Prints each step's line to say and its evidence; a failure in one line with what to
    show instead. Plain lines, so the output is the same at any terminal width."""

    def start(self, number: int, total: int, step: Step) -> None:
        console.print(f"\n[bold]Step {number}/{total}: {step.title}[/]")

    def done(self, number: int, outcome: Outcome) -> None:
        if outcome.result is not None:
            console.print(f"[green]✔ say:[/] {outcome.result.say}", soft_wrap=True)
            for line in outcome.result.evidence:
                console.print(f"    {line}", soft_wrap=True)
        else:
            console.print(f"[red]✘ step {number} failed:[/] {outcome.error}", soft_wrap=True)
            console.print(f"    show instead: {outcome.fallback}", soft_wrap=True)
        console.print(f"    [dim]({outcome.seconds:.0f} s)[/]")


def demo(
    interactive: Annotated[bool, typer.Option(
        "--interactive", help="Wait for Enter between steps (to talk over each one).")] = False,
) -> None:
    """Tour the platform in ~5 minutes: stack, one event end to end, drift -> retrain ->
    canary. Each step prints the line to say and the evidence to point at."""
    settings = settings_or_exit()
    started = time.monotonic()

    def progress(message: str) -> None:
        console.print(f"    [dim]… {message}[/]", soft_wrap=True)

    def pause() -> None:
        if interactive:
            # input ended (a pipe ran dry, Ctrl-D): go on without waiting
            with contextlib.suppress(EOFError):
                console.input("[dim]Enter for the next step…[/]")

    outcomes = run_tour(tour(), DemoContext(settings, progress), ConsoleReporter(), pause)
    failed = [str(n) for n, o in enumerate(outcomes, start=1) if not o.ok]
    took = time.monotonic() - started
    if failed:
        console.print(f"\nDemo done in {took / 60:.1f} min; step(s) {', '.join(failed)} "
                      "failed (each said what to show instead).", soft_wrap=True)
    else:
        console.print(f"\nDemo done in {took / 60:.1f} min: every step showed its evidence. "
                      "Next: `docs/demo.md` for what to say, `dojo lab list` for the depth.",
                      soft_wrap=True)
    raise typer.Exit(code=exit_code(outcomes))

"""Run a lab's steps against the local stack, show each command and its output, check outcomes.

Why it stops at the first failure: every step builds on the one before (no events in the topic
if the generator failed), so the first unmet expectation is the one worth reading. The report
then names the step, what was expected, what was seen, and where to look next.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from dojo.settings import REPO_ROOT, Settings
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import Lab, Step
from dojo.teaching.labs.checks import Outcome, run_step, step_env
from dojo.teaching.labs.prerequisites import missing_prerequisites
from dojo.teaching.progress import record_lab

SHOWN_LINES = 30  # a step's output beyond this is elided in the walkthrough (the log keeps all)
SEEN_LINES = 15  # the failure report quotes this many trailing lines

Ask = Callable[[str], str]


@dataclass
class LabReport:
    """How a run ended: its exit code, a one-line message, and the outcome of each step run."""

    lab_id: str
    exit_code: int
    message: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0


def _tail(text: str, lines: int) -> tuple[str, int]:
    rows = text.rstrip("\n").splitlines()
    return "\n".join(rows[-lines:]), max(0, len(rows) - lines)


def ensure_stack(settings: Settings, console: Console) -> str | None:
    """Start the local stack if it is not up; the error text if it would not start."""
    from dojo.runtime.stack import (  # imported late: start-up code stays out of tests
        Stack,
        StackError,
    )

    stack = Stack(settings)
    if stack.is_up():
        return None
    console.print("[bold]The local stack is not up: starting it (same as `dojo up`)…[/]")
    try:
        stack.up()
    except StackError as error:
        return str(error)
    return None


class LabRunner:
    """Executes one lab. ``ask`` reads a line from the learner (only in interactive mode)."""

    def __init__(
        self,
        settings: Settings,
        console: Console,
        *,
        interactive: bool = False,
        ask: Ask | None = None,
        cwd: Path = REPO_ROOT,
        start_stack: Callable[[Settings, Console], str | None] = ensure_stack,
    ) -> None:
        self.settings = settings
        self.console = console
        self.interactive = interactive
        self.ask = ask or console.input
        self.cwd = cwd
        self.start_stack = start_stack

    def run(self, lab: Lab) -> LabReport:
        """Check prerequisites, start the stack if needed, then run every step in order."""
        if not lab.ready:
            return LabReport(lab.id, exit_codes.NOT_BUILT,
                             f"lab {lab.id} ({lab.title}) is planned, not built yet: "
                             "see labs/README.md for the labs you can run")
        missing = missing_prerequisites(lab.needs)
        if missing:
            return LabReport(lab.id, exit_codes.MISSING_PREREQUISITE,
                             f"lab {lab.id} {missing[0].reason}")
        if "stack" in lab.needs:
            error = self.start_stack(self.settings, self.console)
            if error:
                return LabReport(lab.id, exit_codes.FAILED,
                                 f"the local stack did not start: {error} "
                                 f"(look: `dojo doctor`, logs under {self.settings.logs_dir})")
        env = step_env(self.settings.as_env())
        started = time.monotonic()
        report = LabReport(lab.id, exit_codes.OK, "")
        total = len(lab.steps)
        for index, step in enumerate(lab.steps, start=1):
            if self.interactive and index > 1 and not self._pause(index, total, step.name):
                report.exit_code = exit_codes.INTERRUPTED
                report.message = f"stopped by you before step {index}/{total}; not recorded"
                return report
            self._announce(index, total, step)
            with self.console.status(f"running step {index}/{total}…"):
                outcome = run_step(step, env, self.cwd)
            report.outcomes.append(outcome)
            self._show(outcome)
            if not outcome.ok:
                report.exit_code = exit_codes.FAILED
                report.message = f"lab {lab.id} failed at step {index}/{total}: {step.name}"
                self._explain_failure(lab, index, total, step, outcome)
                return report
        report.seconds = time.monotonic() - started
        record_lab(self.settings.progress_path, lab.id, report.seconds)
        report.message = (f"lab {lab.id} passed: {total} steps in {report.seconds:.1f} s, "
                          f"recorded in {self.settings.progress_path}")
        return report

    # --- presentation -------------------------------------------------------------------
    def _pause(self, index: int, total: int, name: str) -> bool:
        try:
            answer = self.ask(f"[bold]Enter[/] runs step {index}/{total} ({name}), q stops: ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() not in {"q", "quit"}

    def _announce(self, index: int, total: int, step: Step) -> None:
        self.console.print(Rule(f"Step {index}/{total} · {step.name}", align="left"))
        if step.shows:
            self.console.print(Text(step.shows, style="italic"))
        for number, line in enumerate(step.run.splitlines()):
            self.console.print(Text(("$ " if number == 0 else "  ") + line, style="bold cyan"),
                               soft_wrap=True)

    def _show(self, outcome: Outcome) -> None:
        shown, hidden = _tail(outcome.output, SHOWN_LINES)
        if hidden:
            self.console.print(Text(f"… {hidden} earlier lines not shown", style="dim"))
        if shown:
            self.console.print(Text(shown), soft_wrap=True)
        tries = f" after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
        if outcome.ok:
            self.console.print(Text(f"✓ as expected ({outcome.seconds:.1f} s{tries})",
                                    style="green"))

    def _explain_failure(
        self, lab: Lab, index: int, total: int, step: Step, outcome: Outcome
    ) -> None:
        seen, _ = _tail(outcome.output, SEEN_LINES)
        readme = lab.readme
        if readme.is_relative_to(self.cwd):
            readme = readme.relative_to(self.cwd)
        body = Group(
            Text.assemble(("step     ", "bold"), f"{index}/{total} {step.name}"),
            Text.assemble(("command  ", "bold"), step.run.strip()),
            *(Text.assemble(("unmet    ", "bold"), line) for line in outcome.failures),
            Text.assemble(("seen     ", "bold"), f"exit {outcome.exit_code}, last lines:"),
            Text(seen or "(no output)", style="dim"),
            Text.assemble(("look at  ", "bold"),
                          f"`dojo doctor`, `dojo status`, logs under {self.settings.logs_dir}, "
                          f"and step {index} of {readme}"),
        )
        self.console.print(Panel(body, title=f"✗ lab {lab.id} stopped", border_style="red",
                                 title_align="left"))

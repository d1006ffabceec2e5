"""The runner of the interview demo (`dojo.teaching.demo`): steps, outcomes, the loop.

Why a tour of steps rather than a lab: a lab checks a learner's work and stops at the first
failure; a demo is shown live to someone else, so each step returns one line to say and the
evidence to point at, and a step that fails says what to show instead and the tour goes on.
Kept apart from the steps so it can be tested without a stack.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

if TYPE_CHECKING:
    from dojo.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class StepResult:
    """What a step did: the line to say, and the evidence (one short line each) to point at."""

    say: str
    evidence: list[str] = field(default_factory=list)


class StepFailed(RuntimeError):
    """A step could not show what it meant to; ``fallback`` says what to show instead."""

    def __init__(self, message: str, fallback: str) -> None:
        super().__init__(message)
        self.fallback = fallback


@dataclass
class DemoContext:
    """What the steps share: the settings, a progress line for long waits, and findings that
    later steps reuse (the traced user, the challenger's version)."""

    settings: Settings
    progress: Callable[[str], None] = lambda _message: None
    found: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One stop of the tour; ``fallback`` is what to show if it fails in an unforeseen way."""

    title: str
    run: Callable[[DemoContext], StepResult]
    fallback: str


@dataclass(frozen=True)
class Outcome:
    step: Step
    result: StepResult | None
    error: str = ""
    fallback: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result is not None


class Reporter(Protocol):
    """Where the tour writes; the CLI prints with its console, tests collect the calls."""

    def start(self, number: int, total: int, step: Step) -> None: ...

    def done(self, number: int, outcome: Outcome) -> None: ...


def run_tour(steps: list[Step], context: DemoContext, reporter: Reporter,
             pause: Callable[[], None] = lambda: None) -> list[Outcome]:
    """Run every step in order; a failing step is reported with its fallback, never fatal.

    ``pause`` runs between steps (the interactive mode waits for Enter there)."""
    outcomes: list[Outcome] = []
    for number, step in enumerate(steps, start=1):
        if number > 1:
            pause()
        reporter.start(number, len(steps), step)
        started = time.monotonic()
        try:
            outcome = Outcome(step, step.run(context), seconds=time.monotonic() - started)
        except StepFailed as error:
            outcome = Outcome(step, None, str(error), error.fallback,
                              time.monotonic() - started)
        except Exception as error:  # a live demo goes on whatever breaks
            outcome = Outcome(step, None, f"{type(error).__name__}: {error}", step.fallback,
                              time.monotonic() - started)
        log.info("demo.step", step=step.title, ok=outcome.ok, seconds=round(outcome.seconds, 1),
                 error=outcome.error or None)
        outcomes.append(outcome)
        reporter.done(number, outcome)
    return outcomes


def exit_code(outcomes: list[Outcome]) -> int:
    """0 when every step showed what it meant to, 1 otherwise."""
    return 0 if all(outcome.ok for outcome in outcomes) else 1

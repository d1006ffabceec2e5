"""Poll until a condition holds or a deadline passes: the one way the platform waits.

Why one helper: the stack's health wait, the lab checks, the drills and `dojo train` all wait
for something that takes a variable time (a server coming up, a consumer catching up, a DAG
being parsed). A fixed `sleep N` is either too short on a busy laptop or wastes time on a fast
one, so each of them polls a probe with a deadline. Here the pause starts short and doubles up
to a cap (a quick success is seen quickly, a slow one is not hammered), and the last pause is
cut so the final probe runs at the deadline rather than after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Waited(Generic[T]):
    """What a wait ended with: the last probe's result and whether it counted as done."""

    value: T
    ok: bool
    attempts: int
    seconds: float


def wait_until(
    probe: Callable[[], T],
    deadline_s: float,
    *,
    done: Callable[[T], bool] = bool,
    stop: Callable[[T], bool] | None = None,
    first_pause_s: float = 0.2,
    max_pause_s: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Waited[T]:
    """Call ``probe`` until ``done(result)``, until ``stop(result)``, or until ``deadline_s``.

    The probe always runs at least once. ``stop`` ends the wait early without success (for
    example: the process being waited for has exited, so waiting longer cannot help).
    ``clock`` and ``sleep`` are parameters so a test can drive the wait without real time.
    """
    started = clock()
    deadline = started + deadline_s
    pause = first_pause_s
    attempts = 1
    value = probe()
    while not done(value):
        remaining = deadline - clock()
        if remaining <= 0 or (stop is not None and stop(value)):
            return Waited(value, False, attempts, clock() - started)
        sleep(min(pause, remaining))  # the poll interval, never past the deadline
        pause = min(pause * 2, max_pause_s)
        value = probe()
        attempts += 1
    return Waited(value, True, attempts, clock() - started)

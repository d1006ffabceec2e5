"""What every drill is: inject a fault, state the symptom, hint, check the fix, reset.

Why a small base class: the streaming, training and serving issues each add drills for their
own components. A drill is one module under ``dojo/teaching/drills/`` with one ``Drill`` subclass;
the registry finds it, the CLI and the tests drive it through these methods only.

The contract a drill keeps:
- ``inject`` breaks the running stack the way production breaks (stop a process, occupy a
  port), never by setting a flag the check later reads;
- ``check`` observes the system (a health probe, a port, a topic) and passes only when it
  works again;
- ``fix_commands`` are the runbook's fix, verbatim (a test holds them to the page), and
  ``fix`` runs them, so the integration test applies the same fix a person would;
- ``reset`` restores a healthy stack whatever the learner did in between.
"""

from __future__ import annotations

import re
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from dojo.runtime.waiting import wait_until
from dojo.settings import REPO_ROOT, Settings
from dojo.teaching.labs.checks import run_command, step_env

if TYPE_CHECKING:
    from dojo.runtime.stack import Stack

# Long enough for MLflow to come back (its first start migrates a SQLite database).
HEALTHY_DEADLINE_S = 90.0


class DrillError(RuntimeError):
    """A drill could not inject, fix or reset; the message says what and where to look."""


@dataclass(frozen=True)
class Check:
    """The observed state: does the thing the drill broke work again?"""

    ok: bool
    detail: str


@dataclass
class DrillContext:
    """What a drill acts on: the settings of the running stack and a folder for its own state."""

    settings: Settings
    repo_root: Path = REPO_ROOT

    @property
    def state_dir(self) -> Path:
        """Per-drill files (pids of processes a drill started) live here, under DOJO_HOME."""
        return self.settings.home / "drills"

    def stack(self) -> Stack:
        from dojo.runtime.stack import Stack  # late: the drill modules import without a stack

        return Stack(self.settings)

    def health(self, name: str) -> Check:
        """The platform's own health probe for one component (the one `dojo doctor` uses).

        A closed port is answered at once: a client library pointed at a dead address waits
        for its own connect timeout (tens of seconds for Kafka's bootstrap) to say the same.
        """
        from dojo.runtime.health import check
        from dojo.runtime.ports import port_answers

        port = self.stack().component(name).port
        if port and not port_answers(self.settings.host, port):
            return Check(False, f"nothing listens on {self.settings.host}:{port} ({name})")
        result = check(name, self.settings)
        return Check(result.ok, result.detail)

    def shell(self, command: str, timeout: float = 180.0) -> tuple[int, str]:
        """Run a runbook line the way a person would: bash, from the repo root, DOJO_* set."""
        code, output, _ = run_command(command, step_env(self.settings.as_env()), timeout,
                                      self.repo_root)
        return code, output

    def wait_for(self, probe: Callable[[], Check], deadline_s: float = HEALTHY_DEADLINE_S,
                 what: str = "the component") -> Check:
        """Poll ``probe`` until it passes or the deadline passes (never a fixed sleep)."""
        result = wait_until(probe, deadline_s, done=lambda check: check.ok).value
        if not result.ok:
            raise DrillError(f"{what} is not healthy after {deadline_s:g} s: {result.detail}")
        return result


class Drill(ABC):
    """One fault to break the local stack with. Subclasses set the class attributes below."""

    name: ClassVar[str]  # kebab-case, as typed after `dojo drill start`
    title: ClassVar[str]
    symptom: ClassVar[str]  # what the learner is told: only what a user or an alert would see
    hints: ClassVar[tuple[str, ...]]  # graded: the first points at a tool, the last is the answer
    runbook: ClassVar[str]  # repository-relative path of the runbook page
    fix_commands: ClassVar[tuple[str, ...]]  # the runbook's fix, verbatim
    needs: ClassVar[tuple[str, ...]] = ("stack",)

    @abstractmethod
    def inject(self, ctx: DrillContext) -> None:
        """Break the running stack."""

    @abstractmethod
    def check(self, ctx: DrillContext) -> Check:
        """Observe the system: ok only when the broken thing works again."""

    @abstractmethod
    def reset(self, ctx: DrillContext) -> None:
        """Undo the fault and return to a healthy stack, whatever happened since ``inject``."""

    def fix(self, ctx: DrillContext) -> list[tuple[str, int, str]]:
        """Apply the runbook's fix commands in order; each (command, exit code, output).

        A fix command may fail on purpose (the runbook's first `dojo up` shows the error), so
        the codes are returned, not judged: ``check`` decides whether the fix worked.
        """
        return [(command, *ctx.shell(command)) for command in self.fix_commands]


def stop_recorded_process(pid_file: Path, is_ours: Callable[[int], bool]) -> None:
    """Stop the helper process a drill recorded in ``pid_file`` (TERM, then KILL after 10 s),
    only if it is still the drill's own (a recycled pid is left alone), and forget it."""
    import os
    import signal

    import psutil

    try:
        pid: int | None = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and is_ours(pid):
        os.kill(pid, signal.SIGTERM)
        try:
            psutil.Process(pid).wait(timeout=10)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def run_pid_fix(ctx: DrillContext, commands: tuple[str, ...],
                pid_in_output: re.Pattern[str]) -> list[tuple[str, int, str]]:
    """A runbook fix of three commands: one that prints a pid, `kill <PID>`, then `dojo up`.

    The pid is read from the first command's output with ``pid_in_output`` (group 1), as a
    person would read it; without one, only the first step is reported.
    """
    first, kill, then = commands
    code, output = ctx.shell(first)
    steps = [(first, code, output)]
    found = pid_in_output.search(output)
    if found is None:
        return steps
    command = kill.replace("<PID>", found.group(1))
    steps.append((command, *ctx.shell(command)))
    steps.append((then, *ctx.shell(then)))
    return steps


def start_detached(ctx: DrillContext, name: str, argv: list[str],
                   cwd: Path | None = None) -> subprocess.Popen:
    """Start a drill's helper process in its own session, so it outlives the command that
    started it (like a forgotten server or a rogue producer). Its output goes to
    ``<state_dir>/<name>.log`` and its pid to ``<state_dir>/<name>.pid`` for ``reset``."""
    ctx.state_dir.mkdir(parents=True, exist_ok=True)
    with (ctx.state_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, start_new_session=True)
    (ctx.state_dir / f"{name}.pid").write_text(f"{process.pid}\n")
    return process


def command_line_has(pid: int, *parts: str) -> bool:
    """The process ``pid`` still runs with all ``parts`` in its command line (pids are reused:
    never kill a stranger)."""
    import psutil

    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return all(part in cmdline for part in parts)

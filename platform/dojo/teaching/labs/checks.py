"""Run one lab step and judge its outcome against the step's ``expect``.

Why a separate module: the lab runner and the drill engine both need "run this shell line with
the platform's settings exported, then say plainly what was expected and what was seen". The
judging is pure (a finished command in, a list of unmet expectations out), so it is unit-tested
without a stack.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dojo.runtime.waiting import wait_until
from dojo.settings import REPO_ROOT
from dojo.teaching.labs.catalog import Expect, Step

_VAR = re.compile(r"\$\{(\w+)\}")
# Between two attempts of a `within` step: short at first (most things settle in a second),
# then capped so a slow component is not hammered. The deadline, not this, bounds the wait.
_FIRST_PAUSE_S, _MAX_PAUSE_S = 0.25, 2.0


@dataclass
class Outcome:
    """One attempt at a step: what the command did and which expectations it missed."""

    exit_code: int
    output: str
    seconds: float
    failures: list[str] = field(default_factory=list)
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return not self.failures


def step_env(settings_env: Mapping[str, str]) -> dict[str, str]:
    """The environment a step runs in: ours, the resolved DOJO_* settings, and the venv first.

    The venv's bin goes first on PATH so ``dojo`` in a README command means this checkout's
    CLI, whether or not the learner activated the venv.
    """
    env = {**os.environ, **settings_env}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def expand(text: str, env: Mapping[str, str]) -> str:
    """Replace ``${NAME}`` with the variable's value; an unknown name is left as written."""
    return _VAR.sub(lambda match: env.get(match.group(1), match.group(0)), text)


def run_command(
    command: str, env: Mapping[str, str], timeout: float, cwd: Path = REPO_ROOT
) -> tuple[int, str, float]:
    """Run one shell line strictly (``bash -euo pipefail``); stdout and stderr interleaved.

    The command gets its own process group, so a timeout (or Ctrl-C) kills everything it
    started, pipelines and background children included; otherwise an orphan holding the
    output pipe would keep the runner waiting. A killed command reports exit code 124, the
    convention of coreutils ``timeout``.
    """
    started = time.monotonic()
    with subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
            code = process.returncode
        except subprocess.TimeoutExpired:
            _kill_group(process)
            output, _ = process.communicate()
            code, output = 124, (output or "") + f"\n[killed after {timeout:g} s]\n"
        except BaseException:  # Ctrl-C: take the step's children down with us
            _kill_group(process)
            raise
    return code, output, time.monotonic() - started


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def judge(expect: Expect, exit_code: int, output: str, env: Mapping[str, str]) -> list[str]:
    """Every expectation the finished command missed, each as one readable line."""
    failures: list[str] = []
    if exit_code != expect.exit:
        failures.append(f"expected exit status {expect.exit}, saw {exit_code}")
    if expect.output is not None and not re.search(expect.output, output, re.MULTILINE):
        failures.append(f"expected output matching /{expect.output}/, none did")
    if expect.not_output is not None:
        found = re.search(expect.not_output, output, re.MULTILINE)
        if found:
            failures.append(
                f"expected no output matching /{expect.not_output}/, saw {found.group(0)!r}"
            )
    if expect.http is not None:
        url = expand(expect.http.url, env)
        status, detail = http_status(url)
        if status != expect.http.status:
            failures.append(f"expected GET {url} to answer {expect.http.status}, saw {detail}")
    return failures


def http_status(url: str, timeout: float = 5.0) -> tuple[int | None, str]:
    """The status of a GET, or None and the reason it did not answer."""
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as error:
        return None, f"no answer ({type(error).__name__}: {error})"
    return response.status_code, str(response.status_code)


def attempt(step: Step, env: Mapping[str, str], cwd: Path = REPO_ROOT) -> Outcome:
    """Run the step once and judge it."""
    code, output, seconds = run_command(step.run, env, step.timeout, cwd)
    return Outcome(code, output, seconds, judge(step.expect, code, output, env))


def run_step(step: Step, env: Mapping[str, str], cwd: Path = REPO_ROOT) -> Outcome:
    """Run a step; with ``within`` re-run it until its expectations hold or the deadline passes.

    Why re-run rather than sleep: a consumer catching up or a server coming up takes a
    variable time, so the step itself is the probe and the deadline is the only fixed number.
    """
    if step.expect.within is None:
        return attempt(step, env, cwd)
    waited = wait_until(lambda: attempt(step, env, cwd), step.expect.within,
                        done=lambda outcome: outcome.ok, first_pause_s=_FIRST_PAUSE_S,
                        max_pause_s=_MAX_PAUSE_S)
    outcome = waited.value
    outcome.attempts = waited.attempts
    if not outcome.ok:
        outcome.failures.append(
            f"still unmet after {waited.attempts} attempts within {step.expect.within:g} s"
        )
    return outcome

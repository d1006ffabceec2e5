"""Progressive delivery: shadow -> canary (10 %, 50 %) -> full, with a gate after each step.

Each step routes the challenger on the running model server (the admin routing endpoint),
watches the step's live traffic for `DOJO_ROLLOUT_STEP_S` seconds and judges it
(dojo/delivery/rollout_gates.py). Gates are checked as the traffic comes in, so a failing
challenger is stopped as soon as enough rows show it, not at the end of its step. A failed gate
rolls back at once: routing off (every user on the champion again), the `challenger` alias
removed, the reason tagged on the version. After the last canary step, the challenger is
promoted: `champion` moves to it and `previous-champion` keeps the old one for `dojo model
rollback`. Every change is written to the state file first-hand, so `dojo rollout status`
in another terminal shows where it stands, with the registry's aliases next to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from dojo.delivery import rollout_state as rs
from dojo.delivery.rollout_gates import GateReport, Limits, evaluate
from dojo.delivery.server_api import ServerApi, ServerError
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings

log = structlog.get_logger(__name__)

PROMOTED_EXIT, ROLLED_BACK_EXIT, BAD_INPUT_EXIT, MISSING_EXIT = 0, 1, 2, 3
Say = Callable[[str], None]


class RolloutError(RuntimeError):
    """The rollout cannot start; ``code`` is its exit code (2 bad input, 3 missing server)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def plan(shares: list[float]) -> list[rs.Step]:
    steps = [rs.Step("shadow", "shadow", 0.0)]
    steps += [rs.Step(f"canary {share:.0%}", "canary", share) for share in shares]
    return [*steps, rs.Step("full", "full", 1.0)]


def limits(settings: Settings) -> Limits:
    return Limits(settings.rollout_min_samples, settings.rollout_max_error_rate,
                  settings.rollout_max_p99_ms, settings.rollout_max_psi)


@dataclass
class Rollout:
    settings: Settings
    client: Any  # MlflowClient
    server: ServerApi
    say: Say
    step_s: float

    @property
    def name(self) -> str:
        return self.settings.registered_model

    # ------------------------------------------------------------------ start
    def prepare(self, ref: str) -> rs.RolloutState:
        from dojo.training.registry import RegistryError, resolve
        from dojo.training.tracking import CHAMPION, alias_version

        previous = rs.load(self.settings.home)
        if previous is not None and rs.still_running(previous):
            raise RolloutError(f"a rollout of v{previous.version} is running (pid "
                               f"{previous.pid}); see `dojo rollout status`", BAD_INPUT_EXIT)
        if not self.server.alive():
            raise RolloutError(f"needs the model server at {self.server.url}: start the stack "
                               "with `make up` (or `dojo serve`)", MISSING_EXIT)
        try:
            version = resolve(self.client, self.name, ref)
            self.client.get_model_version(self.name, version)
        except Exception as error:  # RegistryError or MLflow's "no such version"
            message = str(error) if isinstance(error, RegistryError) else \
                f"{self.name} has no version {ref!r}: see `dojo model list`"
            raise RolloutError(message, BAD_INPUT_EXIT) from None
        champion = alias_version(self.client, self.name, CHAMPION)
        if champion is None:
            raise RolloutError(f"{self.name} has no champion to compare with: deploy one "
                               "first (`dojo deploy VERSION`)", BAD_INPUT_EXIT)
        if str(champion) == version:
            raise RolloutError(f"v{version} is already the champion", BAD_INPUT_EXIT)
        return rs.RolloutState(self.name, version, str(champion),
                               steps=plan(self.settings.canary_shares))

    # ------------------------------------------------------------------ run
    def run(self, state: rs.RolloutState) -> int:
        from dojo.training.tracking import CHALLENGER

        self.client.set_registered_model_alias(self.name, CHALLENGER, state.version)
        state.message = f"challenger v{state.version} against champion v{state.champion}"
        self._save(state)
        self.say(f"alias challenger -> v{state.version}; champion stays v{state.champion}")
        try:
            for step in state.steps:
                if step.mode == "full":
                    return self._promote(state, step)
                report = self._watch(state, step)
                if not report.passed:
                    return self._roll_back(state, step, report)
        except KeyboardInterrupt:
            step = state.current or state.steps[0]
            self._roll_back(state, step, None, reason="stopped by the operator (Ctrl-C)")
            raise
        return PROMOTED_EXIT  # pragma: no cover - the plan always ends with "full"

    def _route(self, step: rs.Step, version: str) -> None:
        mode = "shadow" if step.mode == "shadow" else "canary"
        self.server.route(mode, step.share if mode == "canary" else None)
        self.server.reload()

        def switched() -> bool:
            served = self.server.served()
            return served.challenger == version and served.mode == mode

        if not wait_until(switched, 60, first_pause_s=0.1, max_pause_s=1.0).ok:
            raise ServerError(f"the server did not load challenger v{version} in {mode} mode "
                              f"within 60 s: {self.server.served().problem}")

    def _watch(self, state: rs.RolloutState, step: rs.Step) -> GateReport:
        variant = "shadow" if step.mode == "shadow" else "canary"
        self._route(step, state.version)
        step.status, step.started = rs.RUNNING, rs.now()
        self._save(state)
        role = ("scores every request off the request path" if variant == "shadow"
                else f"answers {step.share:.0%} of users")
        self.say(f"step {step.name}: challenger {role}, watching {self.step_s:g} s")
        before = self.server.metrics()
        started = time.monotonic()
        # Past the step's time, wait a little longer for a quiet server to reach min_samples.
        deadline = started + self.step_s * 3
        report = evaluate(before, before, variant, limits(self.settings))
        last_said = started
        while True:
            time.sleep(0.5)  # the gate's sampling interval
            report = evaluate(before, self.server.metrics(), variant, limits(self.settings))
            elapsed = time.monotonic() - started
            if report.enough and report.failed:
                break  # stop a bad challenger as soon as the traffic shows it
            if report.enough and elapsed >= self.step_s:
                break
            if time.monotonic() >= deadline:
                break
            if time.monotonic() - last_said >= 5:
                self.say(f"  {elapsed:4.0f} s: {report.summary()}")
                last_said = time.monotonic()
        step.gates = report.checks
        step.finished = rs.now()
        step.status = rs.PASSED if report.passed else rs.FAILED
        self._save(state)
        verdict = "passed" if report.passed else "FAILED"
        self.say(f"step {step.name}: gate {verdict}: {report.summary()}"
                 + ("" if report.enough else
                    f" (needs {self.settings.rollout_min_samples} rows: too little traffic)"))
        return report

    def _promote(self, state: rs.RolloutState, step: rs.Step) -> int:
        from dojo.training.registry import promote

        step.status, step.started = rs.RUNNING, rs.now()
        self._save(state)
        changes = promote(self.client, self.name, state.version, force=True)
        self.server.route("off")
        self.server.reload()
        if not wait_until(lambda: self.server.served().champion == state.version, 60,
                          first_pause_s=0.1, max_pause_s=1.0).ok:
            self.say(f"warning: the server does not serve v{state.version} yet: "
                     f"{self.server.served().problem}")
        for change in changes:
            self.say(f"  {change.describe()}")
        step.status, step.finished = rs.PASSED, rs.now()
        state.status = rs.PROMOTED
        state.message = (f"v{state.version} is champion for every user; v{state.champion} "
                         "kept as previous-champion (`dojo model rollback` returns to it)")
        self._save(state)
        self.say(f"step full: {state.message}")
        return PROMOTED_EXIT

    def _roll_back(self, state: rs.RolloutState, step: rs.Step, report: GateReport | None,
                   reason: str | None = None) -> int:
        from dojo.training.tracking import CHALLENGER, alias_version

        reason = reason or "; ".join(c["message"] for c in (report.failed if report else [])) \
            or "too little traffic to judge"
        self.server.route("off")  # every user back on the champion, before anything else
        if alias_version(self.client, self.name, CHALLENGER) == state.version:
            self.client.delete_registered_model_alias(self.name, CHALLENGER)
        self.client.set_model_version_tag(self.name, state.version, "dojo.rollout",
                                          f"rolled back at {step.name}: {reason}"[:500])
        self.server.reload()
        state.status = rs.ROLLED_BACK
        state.message = (f"rolled back at {step.name}: {reason}; champion v{state.champion} "
                         "answers every user")
        self._save(state)
        log.warning("rollout.rolled_back", version=state.version, step=step.name, reason=reason)
        self.say(state.message)
        return ROLLED_BACK_EXIT

    def _save(self, state: rs.RolloutState) -> None:
        rs.save(self.settings.home, state)

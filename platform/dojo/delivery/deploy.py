"""`dojo deploy VERSION`: move a registered version into service, check it, undo it on failure.

The steps, each printed: check the target's prerequisites; prepare it (image, container);
score the known rows with what serves now (the reference); point `champion` at VERSION; make
the server pick it up; health check with retries (ready, and serving VERSION); smoke test of
the known rows. When the health check or the smoke test fails, the alias goes back to the
previous champion (the registry's rollback chain), the server picks that up, and the deploy
says so in its exit code. The registry is the source of truth in every target, so the undo is
the same alias move backwards (plus `kubectl rollout undo` on Kubernetes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from dojo.delivery.known_rows import smoke_rows
from dojo.delivery.server_api import ServerApi, ServerError
from dojo.delivery.smoke import Answers, Floors, SmokeResult, judge, score_rows
from dojo.delivery.targets import Target, TargetError
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings

log = structlog.get_logger(__name__)

# Exit codes of `dojo deploy` (and deploy.sh): the outcome, readable by a script.
DEPLOYED = 0
ROLLED_BACK = 1  # the new version failed its health check or smoke test; the previous serves
BAD_INPUT = 2  # no such version, a gate-refused version without --force, a bad target
MISSING_PREREQUISITE = 3  # no model server / Docker engine / kubectl or cluster
ROLLBACK_FAILED = 4  # the rollback itself did not bring the previous version back: act now

Say = Callable[[str], None]


class DeployInputError(ValueError):
    """The deploy cannot start: the message says why (exit BAD_INPUT)."""


@dataclass
class DeployResult:
    code: int
    version: str
    previous: str | None
    message: str


def check_version(client: Any, name: str, ref: str, force: bool) -> tuple[str, str | None]:
    """The version number to deploy and the current champion; refuse what should not go out."""
    from dojo.training.registry import RegistryError, get_version
    from dojo.training.tracking import CHAMPION, GATE_TAG, alias_version

    try:
        info = get_version(client, name, ref)
    except RegistryError as error:
        raise DeployInputError(str(error)) from None
    gate = info.tags.get(GATE_TAG, "unknown")
    if gate != "passed" and not force:
        raise DeployInputError(f"v{info.version} has gate status {gate!r}; pass --force to "
                               "deploy it anyway (the smoke test still guards the release)")
    return info.version, alias_version(client, name, CHAMPION)


def health_check(server: ServerApi, version: str, retries: int, interval_s: float,
                 say: Say) -> tuple[bool, str]:
    """Ready and serving ``version``, within ``retries`` attempts ``interval_s`` apart."""
    last = "no answer yet"
    for attempt in range(1, retries + 1):
        ready, why = server.ready()
        if ready:
            try:
                served = server.served()
            except ServerError as error:
                served, why = None, str(error)
            if served is not None and served.champion == version:
                return True, f"ready, serving v{version} (attempt {attempt}/{retries})"
            if served is not None:
                why = (f"serving v{served.champion}, not v{version}"
                       + (f" ({served.problem})" if served.problem else ""))
        if why != last or attempt % 10 == 0:
            say(f"  attempt {attempt}/{retries}: {why}")
        last = why
        if attempt < retries:
            time.sleep(interval_s)  # the retry interval between two health probes
    return False, f"not healthy after {retries} attempts: {last}"


def _reference(server: ServerApi, rows: list[dict[str, Any]], deadline_s: float) -> Answers | None:
    """What the current version answers on the known rows (a container just started may need
    a few seconds to load it); None when no version becomes ready."""
    if not wait_until(lambda: server.ready()[0], deadline_s, max_pause_s=1.0).ok:
        return None
    return score_rows(server, rows)


def deploy(settings: Settings, make_client: Callable[[], Any], target: Target, ref: str,
           force: bool, say: Say) -> DeployResult:
    """Run every step; the result's code is one of the exit codes above.

    ``make_client`` builds the MLflow client: called only once the target's prerequisites are
    there, so a machine without a cluster hears about the cluster, not about the registry.
    """
    from dojo.training.registry import promote, rollback

    name = settings.registered_model
    say(f"[1/6] target {target.name}: checking prerequisites")
    missing = target.missing()  # before anything moves
    if missing:
        return DeployResult(MISSING_PREREQUISITE, ref, None, missing)
    client = make_client()
    version, previous = check_version(client, name, ref, force)
    try:
        target.prepare(say)
    except TargetError as error:
        return DeployResult(MISSING_PREREQUISITE, version, previous, str(error))
    server = target.server()
    known = smoke_rows(settings.deploy_smoke_rows)
    rows = known.rows
    patience = settings.deploy_health_retries * settings.deploy_health_interval_s
    reference = _reference(server, rows, patience) if previous else None
    if reference is not None and not reference.error:
        say(f"[2/6] reference: v{reference.version} answered {len(reference.decisions)} "
            "known rows")
    else:
        say("[2/6] reference: none (no champion serving yet)")
    if previous == version:
        say(f"[3/6] alias champion: already v{version} (checking it again)")
    else:
        promote(client, name, version, force=True)
        before = f"v{previous}" if previous else "(none)"
        say(f"[3/6] alias champion: {before} -> v{version}")
    log.info("deploy.alias_moved", version=version, previous=previous, target=target.name)
    try:
        say(f"[4/6] {target.name}: load v{version}, then health check")
        target.apply(say)
        say(f"      health check: {settings.deploy_health_retries} attempts, "
            f"{settings.deploy_health_interval_s:g} s apart")
        healthy, detail = health_check(target.server(), version, settings.deploy_health_retries,
                                       settings.deploy_health_interval_s, say)
    except (TargetError, ServerError) as error:
        healthy, detail = False, str(error)
    say(f"      {'passed' if healthy else 'FAILED'}: {detail}")
    if healthy:
        floors = Floors(settings.deploy_smoke_min_auc, settings.deploy_smoke_min_agreement)
        smoke: SmokeResult = judge(score_rows(target.server(), rows), version, reference,
                                   known, floors)
        say(f"[5/6] smoke test: {'passed' if smoke.passed else 'FAILED'}: {smoke.message}")
        if smoke.passed:
            say(f"[6/6] deployed v{version} on {target.name}")
            return DeployResult(DEPLOYED, version, previous, f"v{version} serves")
        failure = f"smoke test failed: {smoke.message}"
    else:
        say("[5/6] smoke test: skipped (not healthy)")
        failure = f"health check failed: {detail}"
    log.warning("deploy.failed", version=version, reason=failure)
    if previous is None or previous == version:
        return DeployResult(ROLLBACK_FAILED, version, previous,
                            f"{failure}; no previous champion to roll back to")
    say(f"[6/6] rolling back to v{previous}")
    try:
        for change in rollback(client, name):
            say(f"      {change.describe()}")
        target.undo(say)
        back, detail = health_check(target.server(), previous, settings.deploy_health_retries,
                                    settings.deploy_health_interval_s, say)
    except (TargetError, ServerError) as error:
        back, detail = False, str(error)
    if not back:
        return DeployResult(ROLLBACK_FAILED, version, previous,
                            f"{failure}; the rollback did not recover: {detail}")
    client.set_model_version_tag(name, version, "dojo.deploy", f"rolled back: {failure}"[:500])
    return DeployResult(ROLLED_BACK, version, previous,
                        f"{failure}; rolled back, v{previous} serves again ({detail})")

"""Drill: the new champion is a forest of thousands of trees; every prediction got slow.

Why this fault: latency regressions ship with models more often than with code. A bigger
ensemble scores a little better offline, its training run logs a p95 latency that the latency
gate refuses, someone forces it through, and the p99 of `/predict` goes over the SLO within
minutes: DojoServingLatencyHigh pages. Nothing errors and nothing is down, so health checks
stay green; only the latency histograms (and the clients' timeouts) show it. The drill
registers a random forest of 5,000 trees (a per-tree Python loop on every call: about 20 to
50 times the champion's time) and forces it to champion as `dojo model promote --force` does;
the check sends /predict requests like a client and passes when their median latency is
within the SLO target (DOJO_SLO_LATENCY_TARGET_S) again.
"""

from __future__ import annotations

import statistics
import time

import httpx

from dojo.teaching.drills._champion import (
    ROLLBACK_AND_RELOAD,
    ensure_champion,
    force_champion,
    pipeline,
    register_for_drill,
    restore_registry,
    training_frame,
    wait_served,
)
from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError
from dojo.training.tracking import GATE_REASON_TAG, GATE_TAG

NAME = "latency-regression"
TREES = 5000
REQUESTS = 30  # sequential, one transaction each, like a client's traffic


def big_forest() -> object:
    """A random forest of TREES shallow trees: small on disk, slow on every predict call
    (scikit-learn walks the trees one by one, in Python, for each request)."""
    from sklearn.ensemble import RandomForestClassifier

    frame, labels = training_frame()
    forest = RandomForestClassifier(n_estimators=TREES, max_depth=4, random_state=0)
    return pipeline(forest, frame).fit(frame, labels)


def measure(ctx: DrillContext, requests: int = REQUESTS) -> tuple[set[str], list[float]]:
    """(versions that answered, seconds per request) of ``requests`` sequential /predict
    calls with the smoke rows (user ids no stream writes, so every call does the same work)."""
    from dojo.delivery.known_rows import smoke_rows

    url = f"http://{ctx.settings.host}:{ctx.settings.serving_port}/predict"
    rows = smoke_rows(ctx.settings.deploy_smoke_rows).rows[:requests]
    versions: set[str] = set()
    seconds: list[float] = []
    with httpx.Client(timeout=30) as client:
        client.post(url, json=rows[0])  # a warm connection; not counted
        for row in rows:
            started = time.perf_counter()
            response = client.post(url, json=row)
            seconds.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise DrillError(f"/predict answered {response.status_code}: "
                                 f"{response.text[:160]}")
            versions.add(str(response.json()["model_version"]))
    return versions, seconds


def served_latency(ctx: DrillContext) -> Check:
    try:
        versions, seconds = measure(ctx)
    except (httpx.HTTPError, DrillError) as error:
        return Check(False, f"the model server does not score: {error}")
    median = statistics.median(seconds)
    p99 = sorted(seconds)[max(0, round(0.99 * len(seconds)) - 1)]
    target = ctx.settings.slo_latency_target_s
    answered = ", ".join(f"v{v}" for v in sorted(versions))
    detail = (f"{len(seconds)} /predict requests answered by {answered}: median "
              f"{median * 1000:.0f} ms, slowest {p99 * 1000:.0f} ms (SLO target "
              f"{target * 1000:.0f} ms, DOJO_SLO_LATENCY_TARGET_S)")
    return Check(median <= target, detail)


class LatencyRegression(Drill):
    name = NAME
    title = "A slower model was promoted; /predict latency is over the SLO"
    symptom = (
        "DojoServingLatencyHigh is paging: the p99 of /predict has been above the 100 ms SLO "
        "for minutes, and clients report timeouts. Traffic is normal, nothing errors, and "
        "every health check is green."
    )
    hints = (
        "Where does a request spend its time? The model server's /metrics splits it: "
        "`dojo_serving_feature_fetch_duration_seconds` (the online store) and "
        "`dojo_serving_model_duration_seconds` (the model's predict call).",
        "The model's own predict time went up, and the champion changed recently: compare the "
        "`p95 ms` column of `dojo model list`, and see who promoted what with `dojo model show "
        "champion`.",
        "Roll the champion back to the version it replaced: `dojo model rollback`, then make "
        "the server load it now with POST /admin/reload.",
    )
    runbook = "labs/drills/latency-regression.md"
    fix_commands = ROLLBACK_AND_RELOAD

    def inject(self, ctx: DrillContext) -> None:
        ensure_champion(ctx, NAME)
        slow = register_for_drill(ctx, NAME, big_forest(), {
            GATE_TAG: "failed",
            GATE_REASON_TAG: "latency_p95_ms {latency_p95_ms:.0f} is above "
                             "DOJO_GATE_MAX_LATENCY_MS"})
        force_champion(ctx, slow)
        wait_served(ctx, slow)

    def check(self, ctx: DrillContext) -> Check:
        return served_latency(ctx)

    def reset(self, ctx: DrillContext) -> None:
        restore_registry(ctx, NAME)

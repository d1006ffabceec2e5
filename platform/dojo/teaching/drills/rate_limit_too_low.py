"""Drill: the model server's rate limit was lowered at run time; real traffic gets 429s.

Why this fault: a limiter protects a service, and a wrong limit takes it down as surely as a
crash, while every health check stays green: the process runs, the model is loaded, /ready says
yes. Only the clients see it, as 429 Too Many Requests. The drill lowers the limit through the
server's own admin endpoint (the way an operator would during an incident, and forget), and the
check sends a short burst like a real client: it passes only when no request is refused.
"""

from __future__ import annotations

import time

import httpx

from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError

SERVER = "model-server"
WRONG = {"per_s": 0.5, "burst": 2}  # one request every 2 s per API key, bursts of 2
BURST = 12  # what the check sends at once: a client retrying a small batch


def _url(ctx: DrillContext, path: str) -> str:
    return f"http://{ctx.settings.host}:{ctx.settings.serving_port}{path}"


def set_limits(ctx: DrillContext, per_s: float, burst: int) -> None:
    response = httpx.put(_url(ctx, "/admin/rate-limit"), json={"per_s": per_s, "burst": burst},
                         headers={"Authorization": f"Bearer {ctx.settings.serving_admin_token}"},
                         timeout=10)
    if response.status_code != 200:
        raise DrillError(f"PUT /admin/rate-limit answered {response.status_code}: "
                         f"{response.text[:200]}")


def refused_in_burst(ctx: DrillContext) -> tuple[int, int]:
    """(refused, sent): a burst of /predict calls from one fresh API key, like a new client.

    The body is deliberately empty: the limiter answers before the body is read, so a 429 is
    the limiter's verdict and a 422 means the request got past it.
    """
    key = f"drill-check-{time.time_ns()}"
    refused = 0
    with httpx.Client(timeout=10) as client:
        for _ in range(BURST):
            status = client.post(_url(ctx, "/predict"), json={},
                                 headers={"X-API-Key": key}).status_code
            refused += status == 429
    return refused, BURST


class RateLimitTooLow(Drill):
    name = "rate-limit-too-low"
    title = "A rate-limit change rejects real traffic"
    symptom = (
        "Clients of the model server get HTTP 429 Too Many Requests for ordinary traffic (a "
        "handful of requests per client), while `dojo status` and `/ready` say everything is "
        "healthy."
    )
    hints = (
        "Who answers 429, the server or something in front of it? The body of a refused "
        "request names the limit, and `dojo_serving_rate_limited_requests_total` on the "
        "server's /metrics counts them.",
        "The limiter's numbers in the 429 body (requests/s per key, burst) are not your "
        "settings DOJO_SERVING_RATE_LIMIT_PER_S and _BURST (500 and 1000 unless .env says "
        "otherwise). Somebody changed them at run time through PUT /admin/rate-limit.",
        "Put the limits back to the settings' values with the admin endpoint (the runbook has "
        "the curl line), or restart the model server, which reads its settings again.",
    )
    runbook = "labs/drills/rate-limit-too-low.md"
    fix_commands = (
        'curl -sS -X PUT "http://${DOJO_HOST}:${DOJO_SERVING_PORT}/admin/rate-limit" '
        '-H "Authorization: Bearer ${DOJO_SERVING_ADMIN_TOKEN}" '
        "-H 'Content-Type: application/json' "
        '-d "{\\"per_s\\": ${DOJO_SERVING_RATE_LIMIT_PER_S}, '
        '\\"burst\\": ${DOJO_SERVING_RATE_LIMIT_BURST}}"',
    )

    def inject(self, ctx: DrillContext) -> None:
        healthy = ctx.health(SERVER)
        if not healthy.ok:
            raise DrillError(f"the model server is not healthy before the drill: "
                             f"{healthy.detail}")
        set_limits(ctx, WRONG["per_s"], WRONG["burst"])
        refused, sent = refused_in_burst(ctx)
        if not refused:
            raise DrillError(f"the lowered limit refused none of {sent} requests")

    def check(self, ctx: DrillContext) -> Check:
        try:
            refused, sent = refused_in_burst(ctx)
        except httpx.HTTPError as error:
            return Check(False, f"the model server does not answer: {error}")
        if refused:
            return Check(False, f"{refused} of {sent} requests from one client got 429")
        return Check(True, f"a burst of {sent} requests from one client: none refused")

    def reset(self, ctx: DrillContext) -> None:
        ctx.stack().up()
        ctx.wait_for(lambda: ctx.health(SERVER), what=SERVER)
        set_limits(ctx, ctx.settings.serving_rate_limit_per_s,
                   ctx.settings.serving_rate_limit_burst)

"""`dojo slo report`: the model server's SLOs over a window, from PromQL.

Two SLIs for `/predict`, both ratios of good requests to all requests:
- latency: requests answered within the target (`DOJO_SLO_LATENCY_TARGET_S`), read from the
  histogram bucket at the target, so it is exact (a percentile from buckets is interpolated);
- availability: requests that did not fail with a 5xx (a 4xx is the caller's mistake).

Error budget: an objective of 99.9% allows 0.1% bad requests; "budget left" is the share of
that allowance not yet spent in the window (negative: the SLO is broken).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from dojo.serving.metrics import LATENCY_BUCKETS
from dojo.settings import Settings

ROUTE = "/predict"
METRIC = "dojo_serving_request_duration_seconds"


class PrometheusUnavailable(RuntimeError):
    """Prometheus did not answer or refused the query; the message names it."""


@dataclass(frozen=True)
class Objective:
    name: str
    objective: float
    good: float
    total: float

    @property
    def sli(self) -> float | None:
        return self.good / self.total if self.total else None

    @property
    def budget_left(self) -> float | None:
        """1.0 = nothing spent, 0 = all spent, below 0 = the SLO is broken."""
        if not self.total:
            return None
        allowed = (1.0 - self.objective) * self.total
        return 1.0 - (self.total - self.good) / allowed


@dataclass(frozen=True)
class SloReport:
    window: str
    target_s: float
    objectives: list[Objective]
    queries: dict[str, str]


def bucket_for(target_s: float) -> float:
    """The histogram's largest bucket bound at or below the target (exact when they match)."""
    fitting = [b for b in LATENCY_BUCKETS if b <= target_s + 1e-12]
    if not fitting:
        raise ValueError(f"DOJO_SLO_LATENCY_TARGET_S={target_s} is below the smallest latency "
                         f"bucket ({LATENCY_BUCKETS[0]} s)")
    return fitting[-1]


def queries(window: str, target_s: float) -> dict[str, str]:
    selector = f'route="{ROUTE}"'
    le = bucket_for(target_s)
    return {
        "total": f"sum(increase({METRIC}_count{{{selector}}}[{window}]))",
        "fast": f'sum(increase({METRIC}_bucket{{{selector},le="{le:g}"}}[{window}]))',
        "errors": f'sum(increase({METRIC}_count{{{selector},status=~"5.."}}[{window}]))',
    }


def _scalar(base: str, query: str, at: float) -> float:
    try:
        response = httpx.get(f"{base}/api/v1/query", params={"query": query, "time": at},
                             timeout=10)
    except httpx.HTTPError as error:
        raise PrometheusUnavailable(f"Prometheus at {base} did not answer "
                                    f"({type(error).__name__}); check `dojo status`") from None
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus refused {query!r}: {body.get('error')}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def slo_report(settings: Settings, window: str = "1h") -> SloReport:
    """Query Prometheus for the window (a PromQL duration: 5m, 1h, 7d)."""
    base = f"http://{settings.host}:{settings.prometheus_port}"
    promql = queries(window, settings.slo_latency_target_s)
    # One evaluation time for every query: increase() extrapolates to the window's edges, so
    # queries evaluated a moment apart would not add up (fast > total was seen without this).
    at = time.time()
    values = {name: _scalar(base, q, at) for name, q in promql.items()}
    total = values["total"]
    return SloReport(window, bucket_for(settings.slo_latency_target_s), [
        Objective("latency", settings.slo_latency_objective, min(values["fast"], total), total),
        Objective("availability", settings.slo_availability_objective,
                  total - values["errors"], total),
    ], promql)

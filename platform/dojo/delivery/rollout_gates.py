"""The gates of one rollout step, from two snapshots of the model server's metrics.

Why metrics (not the prediction log): the server already keeps, per variant, how many rows
each model scored, how many it failed, how long its predict took and where its scores fell
(dojo/serving/metrics.py). The difference of two snapshots is exactly the step's traffic,
so a gate needs no consumer and no storage, and reads the same numbers Prometheus scrapes.

The three gates, and why each:
- error rate of the challenger: a version that fails on real traffic (a category it never saw);
- p99 of its predict time: a version too slow for the latency budget;
- PSI of its scores against the champion's: a version that decides differently from the one
  users have today (inverted, or trained on the wrong labels), before any label arrives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Snapshot = dict[str, float]
EPSILON = 1e-4  # stands in for an empty bin (PSI takes a logarithm of each bin's share)


def _value(snapshot: Snapshot, key: str) -> float:
    return snapshot.get(key, 0.0)


def _delta(before: Snapshot, after: Snapshot, key: str) -> float:
    return _value(after, key) - _value(before, key)


def bucket_counts(before: Snapshot, after: Snapshot, metric: str,
                  variant: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram's buckets over the window, by bound."""
    prefix = f"{metric}_bucket{{le=\""
    suffix = f"\",variant=\"{variant}\"}}"
    bounds = []
    for key in after:
        if key.startswith(prefix) and key.endswith(suffix):
            bound = key[len(prefix):-len(suffix)]
            bounds.append((float(bound), _delta(before, after, key)))
    return sorted(bounds)


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear inside the bucket that holds the quantile."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            inside = count - lower_count
            share = 0.0 if inside <= 0 else (rank - lower_count) / inside
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def psi(expected: list[tuple[float, float]], actual: list[tuple[float, float]]) -> float | None:
    """Population stability index of two cumulative histograms with the same bounds."""
    if not expected or not actual or expected[-1][1] <= 0 or actual[-1][1] <= 0:
        return None

    def shares(buckets: list[tuple[float, float]]) -> list[float]:
        counts = [c - (buckets[i - 1][1] if i else 0.0) for i, (_, c) in enumerate(buckets)]
        total = buckets[-1][1]
        return [max(c / total, EPSILON) for c in counts]

    return sum((a - e) * math.log(a / e)
               for e, a in zip(shares(expected), shares(actual), strict=True))


@dataclass(frozen=True)
class Limits:
    min_samples: int
    max_error_rate: float
    max_p99_ms: float
    max_psi: float


@dataclass(frozen=True)
class GateReport:
    samples: int  # challenger rows attempted in the window
    checks: list[dict]  # {"name", "value", "limit", "passed", "message"}
    enough: bool  # min_samples reached: the checks mean something

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checks if not c["passed"]]

    @property
    def passed(self) -> bool:
        return self.enough and not self.failed

    def summary(self) -> str:
        parts = [c["message"] for c in self.checks]
        return f"{self.samples} rows; " + "; ".join(parts)


def evaluate(before: Snapshot, after: Snapshot, variant: str, limits: Limits) -> GateReport:
    """The step's gates for the challenger's ``variant`` (shadow or canary)."""
    scored = _delta(before, after, f'dojo_serving_scores_count{{variant="{variant}"}}')
    errors = _delta(before, after, f'dojo_serving_variant_errors_total{{variant="{variant}"}}')
    samples = int(scored + errors)
    checks = []
    rate = errors / samples if samples else 0.0
    checks.append({"name": "error_rate", "value": rate, "limit": limits.max_error_rate,
                   "passed": rate <= limits.max_error_rate,
                   "message": f"error rate {rate:.1%} (max {limits.max_error_rate:.1%})"})
    p99 = quantile(bucket_counts(before, after, "dojo_serving_model_duration_seconds",
                                 variant), 0.99)
    p99_ms = None if p99 is None else p99 * 1000
    checks.append({"name": "p99_ms", "value": p99_ms, "limit": limits.max_p99_ms,
                   "passed": p99_ms is None or p99_ms <= limits.max_p99_ms,
                   "message": "p99 -" if p99_ms is None else
                   f"p99 {p99_ms:.1f} ms (max {limits.max_p99_ms:g})"})
    shift = psi(bucket_counts(before, after, "dojo_serving_scores", "champion"),
                bucket_counts(before, after, "dojo_serving_scores", variant))
    checks.append({"name": "psi", "value": shift, "limit": limits.max_psi,
                   "passed": shift is None or shift <= limits.max_psi,
                   "message": "PSI -" if shift is None else
                   f"PSI vs champion {shift:.3f} (max {limits.max_psi:g})"})
    return GateReport(samples, checks, samples >= limits.min_samples)

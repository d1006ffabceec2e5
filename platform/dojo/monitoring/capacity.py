"""Capacity planning from measurements: the knee of one replica, the stages of a request, the plan.

Why pure functions apart from the measuring (`capacity_measure`): the arithmetic of a capacity
plan is what an interviewer probes (why this many replicas, why this many partitions), so it is
kept small enough to read and tested on its own; the numbers it takes come from the running
stack, and the JSON file between the two says which measurement each number came from.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

# A step whose achieved rate is below this share of the offered one is saturated: the load
# generator's workers were all busy, so the server, not the schedule, set the pace.
MIN_ACHIEVED_SHARE = 0.9


class PlanInputError(ValueError):
    """Bad input to a plan (a rate, a peak, a file): the CLI prints it as one line."""


def parse_rates(text: str) -> list[float]:
    """``"20,40,80"`` -> ``[20.0, 40.0, 80.0]``: positive, strictly increasing (a step ladder)."""
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise PlanInputError(
            f"--rates: expected numbers separated by commas, got {text!r}") from None
    if not rates or any(not math.isfinite(r) or r <= 0 for r in rates):
        raise PlanInputError(f"--rates: every rate must be a number > 0, got {text!r}")
    if rates != sorted(set(rates)):
        raise PlanInputError(f"--rates: rates must increase step by step, got {text!r}")
    return rates


def histogram_totals(text: str, name: str, labels: dict[str, str] | None = None
                     ) -> tuple[float, float]:
    """(sum, count) of histogram ``name`` in a /metrics page, over the series whose labels
    include ``labels``. Counters only grow, so two scrapes give what happened in between."""
    total = count = 0.0
    wanted = labels or {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in wanted.items()):
                continue
            if sample.name == f"{name}_sum":
                total += sample.value
            elif sample.name == f"{name}_count":
                count += sample.value
    return total, count


def delta_mean(before: str, after: str, name: str, labels: dict[str, str] | None = None
               ) -> tuple[float, float]:
    """(mean, count) of what a histogram observed between two scrapes; mean 0 without any."""
    s0, c0 = histogram_totals(before, name, labels)
    s1, c1 = histogram_totals(after, name, labels)
    count = c1 - c0
    return ((s1 - s0) / count if count > 0 else 0.0), count


@dataclass(frozen=True)
class Stages:
    """Where the server's time went during one load step, from its own histograms.

    The feature read and the model call run once per micro-batch, and every request in the
    batch waits for the whole of both, so their per-batch means are what each request pays.
    ``rest_s`` is the remainder: waiting for a batch, parsing, serialising, logging.
    """

    requests: int
    request_s: float
    feature_fetch_s: float
    model_s: float
    rows_per_batch: float

    @property
    def rest_s(self) -> float:
        return max(0.0, self.request_s - self.feature_fetch_s - self.model_s)


def stages_between(before: str, after: str) -> Stages:
    """The model server's stage means between two scrapes of its /metrics."""
    request_s, requests = delta_mean(before, after, "dojo_serving_request_duration_seconds",
                                     {"route": "/predict", "status": "200"})
    fetch_s, _ = delta_mean(before, after, "dojo_serving_feature_fetch_duration_seconds")
    model_s, _ = delta_mean(before, after, "dojo_serving_model_duration_seconds",
                            {"variant": "champion"})
    rows, _ = delta_mean(before, after, "dojo_serving_micro_batch_rows")
    return Stages(int(requests), request_s, fetch_s, model_s, rows)


def owned_partitions(text: str, topic: str = "transactions") -> list[int]:
    """Partitions of ``topic`` a stream processor has owned since it started: it sets a lag
    gauge for each partition assigned to it, so its /metrics page lists them."""
    owned = set()
    for family in text_string_to_metric_families(text):
        if family.name == "dojo_stream_consumer_lag_messages":
            owned |= {int(s.labels["partition"]) for s in family.samples
                      if s.labels.get("topic") == topic}
    return sorted(owned)


@dataclass(frozen=True)
class Step:
    """One load step as the client saw it, and the server's stages during it."""

    offered_rps: float
    achieved_rps: float
    sent: int
    ok: int
    p50_s: float | None
    p99_s: float | None
    stages: Stages | None = None

    def within(self, target_s: float) -> bool:
        """Every request answered, the rate kept, and p99 inside the latency objective."""
        return self.why_past(target_s) is None

    def why_past(self, target_s: float) -> str | None:
        """None within the objective, else the first reason it is not."""
        if self.sent == 0 or self.ok < self.sent:
            return f"{self.sent - self.ok} of {self.sent} failed"
        if self.achieved_rps < MIN_ACHIEVED_SHARE * self.offered_rps:
            return f"only {self.achieved_rps:g}/s achieved"
        if self.p99_s is None or self.p99_s > target_s:
            return f"p99 over {target_s * 1000:g} ms"
        return None


def find_knee(steps: list[Step], target_s: float) -> Step | None:
    """The highest-rate step within the objective, below the first one that is not: past the
    knee latency grows with queueing, so a later lucky step does not count."""
    knee = None
    for step in sorted(steps, key=lambda s: s.offered_rps):
        if not step.within(target_s):
            break
        knee = step
    return knee


@dataclass
class Measurements:
    """What `dojo design measure` found; the file `dojo design plan` reads."""

    latency_target_s: float
    steps: list[Step]
    knee_rps: float | None
    partitions: int
    group: str
    members: list[str]  # member ids of the stream group
    processor_partitions: list[int]  # partitions the measured processor owns (its lag gauges)
    stream_events: int = 0
    stream_drain_s: float = 0.0
    stream_busy_eps: float | None = None  # events per second of batch time, one consumer
    notes: list[str] = field(default_factory=list)

    @property
    def knee_step(self) -> Step | None:
        return next((s for s in self.steps if s.offered_rps == self.knee_rps), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Measurements:
        data = dict(data)
        steps = [Step(**{**s, "stages": Stages(**s["stages"]) if s.get("stages") else None})
                 for s in data.pop("steps")]
        return cls(steps=steps, **data)


def load_measurements(path: Path) -> Measurements:
    """Read a measurement file, or raise PlanInputError saying what is wrong with it."""
    if not path.is_file():
        raise PlanInputError(f"no measurement file at {path}: run `dojo design measure` first")
    try:
        return Measurements.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as error:
        raise PlanInputError(f"{path} is not a measurement file of `dojo design measure` "
                             f"({type(error).__name__}: {error})") from None


@dataclass(frozen=True)
class PlanLine:
    """One number of the plan, how it was computed, and the measurement it rests on."""

    name: str
    value: str
    how: str
    source: str


@dataclass(frozen=True)
class PlanNumbers:
    """The plan's results as numbers (None: the measurement they need is missing)."""

    replicas: int | None
    in_flight: float | None
    consumers_needed: int | None


def check_plan_inputs(peak_tps: float, headroom: float) -> None:
    """PlanInputError naming the option, before any file is read: a typo costs no search."""
    if not math.isfinite(peak_tps) or peak_tps <= 0:
        raise PlanInputError(f"--peak-tps must be a number > 0, got {peak_tps:g}")
    if not 0 <= headroom < 1:
        raise PlanInputError(f"--headroom must be in [0, 1), got {headroom:g}")


def plan_numbers(m: Measurements, peak_tps: float, headroom: float) -> PlanNumbers:
    """replicas = ceil(peak / (knee x (1 - headroom))); in flight = peak x mean server time
    (Little's law); consumers = ceil(peak / (one consumer's rate x (1 - headroom)))."""
    check_plan_inputs(peak_tps, headroom)
    usable = 1 - headroom
    replicas = in_flight = consumers = None
    knee = m.knee_step
    if knee is not None and m.knee_rps:
        replicas = math.ceil(peak_tps / (m.knee_rps * usable))
        mean_s = knee.stages.request_s if knee.stages and knee.stages.requests else knee.p50_s
        in_flight = peak_tps * mean_s if mean_s else None
    if m.stream_busy_eps:
        consumers = math.ceil(peak_tps / (m.stream_busy_eps * usable))
    return PlanNumbers(replicas, in_flight, consumers)


def capacity_plan(m: Measurements, peak_tps: float, headroom: float) -> list[PlanLine]:
    """Replicas, partitions and in-flight requests for ``peak_tps``, keeping ``headroom``
    of every component unused (for a lost replica, a retry storm, a slow dependency), each
    line naming the measurement it rests on."""
    n = plan_numbers(m, peak_tps, headroom)
    usable = 1 - headroom
    lines = [PlanLine("peak load", f"{peak_tps:g} tx/s", "given", "--peak-tps"),
             PlanLine("latency objective", f"p99 <= {m.latency_target_s * 1000:g} ms",
                      "given", "DOJO_SLO_LATENCY_TARGET_S")]
    knee = m.knee_step
    if n.replicas is None or knee is None:
        lines.append(PlanLine("model-server replicas", "unknown", "no step met the objective",
                              "dojo design measure: lower --rates"))
    else:
        lines.append(PlanLine(
            "model-server replicas", str(n.replicas),
            f"ceil({peak_tps:g} / ({m.knee_rps:g} x {usable:.2f}))",
            f"knee {m.knee_rps:g}/s, p99 {_ms(knee.p99_s)}"))
        if n.in_flight is not None:
            lines.append(PlanLine(
                "requests in flight",
                f"{n.in_flight:.1f} ({n.in_flight / n.replicas:.1f}/replica)",
                f"{peak_tps:g}/s x {_ms(n.in_flight / peak_tps)}",
                "Little's law at the knee"))
    if n.consumers_needed is not None and m.stream_busy_eps:
        lines.append(PlanLine(
            "stream consumers", str(n.consumers_needed),
            f"ceil({peak_tps:g} / ({m.stream_busy_eps:.0f} x {usable:.2f}))",
            f"1 consumer: {m.stream_busy_eps:.0f} events/s busy"))
        lines.append(PlanLine(
            "partitions of `transactions`", f"{m.partitions} now: {partitions_verdict(m, n)}",
            "extra consumers sit idle",
            f"{len(m.members)} group member(s) now"))
    else:
        lines.append(PlanLine("stream consumers", "unknown", "no stream throughput measured",
                              "dojo design measure --stream-events N"))
    return lines


def partitions_verdict(m: Measurements, n: PlanNumbers) -> str:
    """Enough partitions for the consumers the peak needs, or how many the topic must get."""
    if n.consumers_needed is None:
        return "unknown"
    if n.consumers_needed <= m.partitions:
        return "enough"
    return f"too few: recreate with >= {n.consumers_needed}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"

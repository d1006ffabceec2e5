"""Fill the lab 12 design template with measured numbers; the reasoning stays the learner's.

Why a template with `{{name}}` placeholders and not a generated document: in an interview the
numbers are the easy part to forget and the reasoning is the part that is judged. The command
fills in what the stack measured and leaves every `TODO` for the learner, so the write-up
cannot drift from the measurements and cannot be written without thinking.
"""

from __future__ import annotations

import re

from dojo.monitoring.capacity import Measurements, partitions_verdict, plan_numbers
from dojo.teaching.labs.catalog import LABS_DIR

TEMPLATE = LABS_DIR / "12-system-design-measured" / "design-template.md"
PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")
NOT_MEASURED = "(not measured)"


def _ms(seconds: float | None) -> str:
    return NOT_MEASURED if seconds is None else f"{seconds * 1000:.1f} ms"


def steps_table(m: Measurements) -> str:
    """The load steps as a Markdown table (client percentiles, server stage means)."""
    rows = ["| offered/s | achieved/s | ok/sent | p50 | p99 | features | model | rest |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for step in m.steps:
        s = step.stages
        stages = (_ms(s.feature_fetch_s), _ms(s.model_s), _ms(s.rest_s)) if s else ("-",) * 3
        rows.append(f"| {step.offered_rps:g} | {step.achieved_rps:g} | {step.ok}/{step.sent} | "
                    f"{_ms(step.p50_s)} | {_ms(step.p99_s)} | " + " | ".join(stages) + " |")
    return "\n".join(rows)


def values_for(m: Measurements, peak_tps: float, headroom: float) -> dict[str, str]:
    """Placeholder name -> text, from a measurement file and the plan computed from it."""
    n = plan_numbers(m, peak_tps, headroom)
    knee = m.knee_step
    stages = knee.stages if knee else (m.steps[0].stages if m.steps else None)
    return {
        "peak_tps": f"{peak_tps:g}",
        "headroom": f"{headroom:.0%}",
        "latency_target_ms": f"{m.latency_target_s * 1000:g}",
        "knee_rps": NOT_MEASURED if m.knee_rps is None else f"{m.knee_rps:g}",
        "knee_p50": _ms(knee.p50_s if knee else None),
        "knee_p99": _ms(knee.p99_s if knee else None),
        "server_time": _ms(stages.request_s if stages else None),
        "features_time": _ms(stages.feature_fetch_s if stages else None),
        "model_time": _ms(stages.model_s if stages else None),
        "rest_time": _ms(stages.rest_s if stages else None),
        "rows_per_batch": f"{stages.rows_per_batch:.1f}" if stages else NOT_MEASURED,
        "steps_table": steps_table(m),
        "replicas": NOT_MEASURED if n.replicas is None else str(n.replicas),
        "in_flight": NOT_MEASURED if n.in_flight is None else f"{n.in_flight:.1f}",
        "partitions": str(m.partitions),
        "members": str(len(m.members)),
        "stream_eps": NOT_MEASURED if not m.stream_busy_eps else f"{m.stream_busy_eps:.0f}",
        "consumers_needed": (NOT_MEASURED if n.consumers_needed is None
                             else str(n.consumers_needed)),
        "partitions_verdict": partitions_verdict(m, n),
    }


def fill(template: str, values: dict[str, str]) -> tuple[str, int]:
    """(the template with every known `{{name}}` replaced, how many TODOs remain).

    An unknown placeholder raises KeyError: a template naming a number nobody measures is a
    bug to fix, not a blank to ship.
    """
    unknown = sorted({name for name in PLACEHOLDER.findall(template) if name not in values})
    if unknown:
        raise KeyError(f"the template names unknown placeholders: {', '.join(unknown)}")
    text = PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    return text, text.count("TODO")

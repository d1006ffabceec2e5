"""The interview demo: a narrated ~5-minute tour of the running platform (`dojo demo`).

The tour is the list below; each step is a function in `dojo.teaching.demo_steps` that
returns the line to say and the evidence, and `dojo.teaching.demo_runner` runs them in order,
going on past a failed step with what to show instead.
"""

from __future__ import annotations

from dojo.teaching import demo_steps as s
from dojo.teaching.demo_runner import Step


def tour() -> list[Step]:
    """The six steps, in the order they are told."""
    return [
        Step("The stack is up and healthy", s.stack_up,
             "show `dojo status` and `dojo doctor`, then open MLflow's UI"),
        Step("One transaction enters Kafka; its user's features change", s.one_transaction,
             "show `dojo topics` and `dojo features get <user>` (lab 01)"),
        Step("The champion scores it; the prediction is logged to Kafka", s.champion_scores,
             "show `dojo model show champion` and `curl $SERVER/model`"),
        Step("Injected drift fires the alert; the webhook retrains", s.drift_to_challenger,
             "show `dojo monitor report`, `dojo monitor triggers` and `dojo model list`"),
        Step("The canary promotes the challenger or rolls it back", s.canary,
             "show `dojo rollout status` and `dojo model list`"),
        Step("The stack is left healthy", s.stack_healthy_after,
             "show `dojo status`; `dojo doctor` says which component to look at"),
    ]

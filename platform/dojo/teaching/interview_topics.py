"""The topics an interview card can belong to, so a learner can drill one interview area.

Why a fixed list instead of free tags: interviews for ML-platform roles probe a known set of
areas, and a typo in a card (`monitorng`) must fail the test suite, not quietly create an empty
topic. Every card names exactly one topic on a `Topic:` line; the loader rejects any other name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

# Topic name -> what it covers (shown by `dojo interview --list-topics`). Order is display order.
TOPICS: dict[str, str] = {
    "fundamentals": "what MLOps is, the ML lifecycle, why ML systems fail differently",
    "training": "experiments, reproducibility, tuning, validation, distributed training",
    "serving": "model servers, online vs batch prediction, latency, inference optimisation",
    "streaming": "Kafka, stream processing, windows, delivery semantics",
    "feature-stores": "online and offline stores, point-in-time joins, training-serving skew",
    "orchestration": "Airflow, pipeline design, retries, backfills, automated retraining",
    "delivery": "CI/CD, registries, blue-green, canary, shadow, A/B tests, rollback",
    "kubernetes": "containers, Kubernetes objects, probes, autoscaling, failure modes",
    "monitoring": "SLOs, alerting, drift, observability, incident response",
    "cloud": "managed ML services, infrastructure as code, serverless, cost",
    "system-design": "platform architecture, scaling, distributed data, capacity trade-offs",
    "governance": "versioning and lineage, security, compliance, fairness, explainability",
}


class UnknownTopicError(ValueError):
    """A topic name that is not in TOPICS; the message lists the valid ones."""


class HasTopic(Protocol):
    @property
    def topic(self) -> str: ...


def check_topic(name: str) -> str:
    """The topic name normalised (case, spaces), or UnknownTopicError naming the valid ones."""
    topic = name.strip().lower().replace(" ", "-").replace("_", "-")
    if topic not in TOPICS:
        raise UnknownTopicError(f"unknown topic {name!r}; valid topics: {', '.join(TOPICS)}")
    return topic


def count_by_topic(cards: Iterable[HasTopic]) -> dict[str, int]:
    """Cards per topic, every topic listed (zero included) so a gap is visible."""
    counts = Counter(card.topic for card in cards)
    return {topic: counts.get(topic, 0) for topic in TOPICS}

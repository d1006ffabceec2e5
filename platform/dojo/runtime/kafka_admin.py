"""The platform's Kafka topics: created idempotently at start, described for people.

Why at start and not lazily: the local broker keeps everything in memory, so after a broker
restart the topics are gone; `dojo up` (and the broker-restart drill's fix) puts them back
with the intended partition counts instead of whatever auto-creation would pick.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from dojo.contracts import DLQ_TOPIC, LABELS_TOPIC, PREDICTIONS_TOPIC, TRANSACTIONS_TOPIC
from dojo.settings import Settings


def topic_plan(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count. `transactions` is keyed by user_id, so per-user order
    holds within a partition while six consumers can share the load."""
    return {
        TRANSACTIONS_TOPIC: settings.kafka_transactions_partitions,
        DLQ_TOPIC: 1,
        PREDICTIONS_TOPIC: 3,
        LABELS_TOPIC: 3,
    }


def admin_client(settings: Settings, timeout_ms: int = 5000) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,  # default 30 s: a down broker would stall every check
        client_id="dojo-admin",
    )


def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; return the names created (existing ones are left as they are)."""
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        created = []
        for name, partitions in topic_plan(settings).items():
            if name in existing:
                continue
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
        return created
    finally:
        admin.close()


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    messages: int  # sum of end offsets: what was ever written (nothing is deleted locally)


def describe_topics(settings: Settings) -> list[TopicInfo]:
    """Every topic with its partition count and end offsets."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, client_id="dojo-describe",
        request_timeout_ms=6000,
    )
    try:
        infos = []
        for name in sorted(consumer.topics()):
            partitions = sorted(consumer.partitions_for_topic(name) or ())
            tps = [TopicPartition(name, p) for p in partitions]
            ends = consumer.end_offsets(tps) if tps else {}
            infos.append(TopicInfo(name, len(partitions), sum(ends.values())))
        return infos
    finally:
        consumer.close()

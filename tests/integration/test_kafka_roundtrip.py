"""Produce -> consume through the local broker with a consumer group and committed offsets."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from dojo.runtime.kafka_admin import describe_topics, ensure_topics, topic_plan
from dojo.settings import Settings


def _drain(consumer: KafkaConsumer, want: int, deadline_s: float = 30) -> list:
    records: list = []
    deadline = time.monotonic() + deadline_s
    while len(records) < want and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def test_topics_exist_with_planned_partitions_and_creation_is_idempotent(
    healthy_stack: Settings,
) -> None:
    assert ensure_topics(healthy_stack) == []  # already there: nothing created twice
    infos = {info.name: info.partitions for info in describe_topics(healthy_stack)}
    for name, partitions in topic_plan(healthy_stack).items():
        assert infos[name] == partitions


def test_round_trip_with_group_commit_and_resume(healthy_stack: Settings) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    group = f"g-{topic}"
    producer = KafkaProducer(bootstrap_servers=healthy_stack.bootstrap_servers)
    sent = {f"user-{i % 9}": [] for i in range(9)}
    for i in range(90):
        key = f"user-{i % 9}"
        producer.send(topic, key=key.encode(), value=f"{i}".encode())
        sent[key].append(str(i))
    producer.flush()
    producer.close()

    def consumer() -> KafkaConsumer:
        return KafkaConsumer(
            topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
            **healthy_stack.kafka_consumer_kwargs(),
        )

    first = consumer()
    records = _drain(first, 90)
    assert len(records) == 90
    # keyed messages keep their order per key (same key -> same partition)
    seen: dict[str, list[str]] = {}
    for record in records:
        seen.setdefault(record.key.decode(), []).append(record.value.decode())
    assert seen == sent
    first.commit()
    partitions = [TopicPartition(topic, p) for p in first.partitions_for_topic(topic)]
    committed = sum(first.committed(tp) or 0 for tp in partitions)
    assert committed == 90
    first.close()

    producer = KafkaProducer(bootstrap_servers=healthy_stack.bootstrap_servers)
    producer.send(topic, key=b"user-0", value=b"late")
    producer.flush()
    producer.close()
    second = consumer()  # same group: resumes after the committed offsets
    resumed = _drain(second, 1)
    assert [r.value for r in resumed] == [b"late"]
    second.close()

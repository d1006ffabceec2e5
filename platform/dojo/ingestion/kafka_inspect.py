"""Read-only looks at the platform's Kafka state: group lag, the DLQ, where a key lands.

Why from the broker's side: the stream processor reports its own lag on /metrics, but that
number disappears exactly when it matters most (the processor is stopped or hung). Committed
offsets and end offsets live in the broker, so lag measured here survives the consumer, which
is what `kafka-consumer-groups.sh --describe` does for a real cluster. Labs 16 and 17 and the
streaming drills read the system through these functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.partitioner.default import murmur2

from dojo.contracts import DLQ_TOPIC, TRANSACTIONS_TOPIC
from dojo.ingestion.dlq import REASON_HEADER, SOURCE_HEADERS
from dojo.runtime.kafka_admin import admin_client
from dojo.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed here (it would start at earliest)
    end: int  # the broker's end offset (see lab 17 for how the local broker reports it)

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed or 0))


def _reader(settings: Settings) -> KafkaConsumer:
    """A consumer outside any group: it reads and looks up offsets, never commits."""
    return KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, client_id="dojo-inspect",
                         enable_auto_commit=False, request_timeout_ms=6000,
                         allow_auto_create_topics=False)


def group_lag(settings: Settings, group_id: str,
              topic: str = TRANSACTIONS_TOPIC) -> list[PartitionLag]:
    """Per partition of ``topic``: the group's committed offset, the end offset, the lag."""
    admin = admin_client(settings)
    reader = _reader(settings)
    try:
        partitions = sorted(reader.partitions_for_topic(topic) or ())
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = reader.end_offsets(tps) if tps else {}
        committed = admin.list_group_offsets({group_id: tps}).get(group_id, {})
    finally:
        reader.close()
        admin.close()
    rows = []
    for tp in tps:
        meta = committed.get(tp)
        offset = meta.offset if meta is not None and meta.offset >= 0 else None
        rows.append(PartitionLag(tp.partition, offset, ends.get(tp, 0)))
    return rows


def reset_group(settings: Settings, group_id: str, to: str = "earliest",
                topic: str = TRANSACTIONS_TOPIC) -> dict[int, int]:
    """Move a group's committed offsets to the start (or end) of every partition.

    The group must have no running member, as with `kafka-consumer-groups.sh --reset-offsets`:
    a live member would overwrite the reset with its next commit.
    """
    if to not in {"earliest", "latest"}:
        raise ValueError(f"to must be 'earliest' or 'latest', got {to!r}")
    spec = OffsetSpec.EARLIEST if to == "earliest" else OffsetSpec.LATEST
    admin = admin_client(settings)
    reader = _reader(settings)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        result = admin.reset_group_offsets(group_id, {tp: spec for tp in tps})
    finally:
        reader.close()
        admin.close()
    return {tp.partition: item["offset"] for tp, item in sorted(result.items())}


@dataclass(frozen=True)
class DlqMessage:
    offset: int
    key: str | None
    reason: str
    source: str  # topic/partition@offset of the rejected original
    value: bytes


def read_dlq(settings: Settings, key: str | None = None, deadline_s: float = 10.0
             ) -> list[DlqMessage]:
    """Every message in the DLQ (optionally only one key's), oldest first.

    Reads until the consumer's position passes the end offset. On the local broker the end
    offset can read low after a batched produce (lab 17); the position after the last batch
    is then past it, so nothing is missed.
    """
    reader = _reader(settings)
    tp = TopicPartition(DLQ_TOPIC, 0)
    messages: list[DlqMessage] = []
    try:
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        end = reader.end_offsets([tp])[tp]
        deadline = time.monotonic() + deadline_s
        while reader.position(tp) < end and time.monotonic() < deadline:
            for record in reader.poll(timeout_ms=200).get(tp, []):
                headers = {k: v.decode(errors="replace") for k, v in record.headers or []}
                record_key = record.key.decode(errors="replace") if record.key else None
                if key is not None and record_key != key:
                    continue
                source = "{}/{}@{}".format(*(headers.get(h, "?") for h in SOURCE_HEADERS))
                messages.append(DlqMessage(record.offset, record_key,
                                           headers.get(REASON_HEADER, "?"), source,
                                           record.value or b""))
    finally:
        reader.close()
    return messages


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Partition -> end offset, as the broker reports it."""
    reader = _reader(settings)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in reader.end_offsets(tps).items()}
    finally:
        reader.close()


def newest_message_time(settings: Settings, topic: str = DLQ_TOPIC, partition: int = 0,
                        deadline_s: float = 5.0) -> float | None:
    """Producer timestamp (epoch seconds) of the newest message in one partition, or None.

    Seeks to the last end offset minus one: on the local broker that is the base of the last
    record batch (lab 17), so reading to the end still reaches the newest record.
    """
    reader = _reader(settings)
    tp = TopicPartition(topic, partition)
    newest: float | None = None
    try:
        reader.assign([tp])
        end = reader.end_offsets([tp])[tp]
        if end == 0:
            return None
        reader.seek(tp, end - 1)
        deadline = time.monotonic() + deadline_s
        while reader.position(tp) < end and time.monotonic() < deadline:
            for record in reader.poll(timeout_ms=200).get(tp, []):
                newest = max(newest or 0.0, record.timestamp / 1000)
    finally:
        reader.close()
    return newest


def partition_for_key(key: str, partitions: int) -> int:
    """The partition the producers' default partitioner picks for a key (murmur2, as Java's)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def topic_keys(settings: Settings, topic: str = TRANSACTIONS_TOPIC,
               deadline_s: float = 10.0) -> dict[str, set[int]]:
    """Key -> the partitions its messages are in, over the whole topic."""
    reader = _reader(settings)
    found: dict[str, set[int]] = {}
    try:
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        deadline = time.monotonic() + deadline_s
        while any(reader.position(tp) < ends[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, records in reader.poll(timeout_ms=200).items():
                for record in records:
                    if record.key:
                        found.setdefault(record.key.decode(errors="replace"), set()).add(
                            tp.partition)
    finally:
        reader.close()
    return found

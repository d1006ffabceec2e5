"""Kafka through the local broker: produce/consume rate of kafka-python, and group join time.

Baseline (same run): an empty loop that serialises and parses the same messages in memory, so
the ratio is what the broker round trip and the client cost on top of the Python work itself.
Join time is measured for the Kafka default session timeout (45 s) and the platform's 6 s.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka import KafkaConsumer, KafkaProducer

from _report import report
from dojo.runtime.launch import standalone_broker

MESSAGES = 50_000


def _message(i: int) -> dict:
    return {"transaction_id": f"t{i}", "ts": "2026-11-21T10:00:00+00:00", "user_id": f"u{i % 500}",
            "card_id": f"c{i % 700}", "merchant_id": f"m{i % 90}", "merchant_category": "grocery",
            "amount": 12.5 + i % 100, "currency": "EUR", "country": "DE",
            "device_id": f"d{i % 800}", "channel": "pos"}


def empty_loop(messages: list[dict]) -> float:
    started = time.perf_counter()
    for message in messages:
        json.loads(json.dumps(message).encode())
    return time.perf_counter() - started


def produce(bootstrap: str, topic: str, messages: list[dict], batch_size: int) -> float:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=batch_size)
    started = time.perf_counter()
    for message in messages:
        producer.send(topic, key=message["user_id"].encode(), value=json.dumps(message).encode())
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return elapsed


def consume(bootstrap: str, topic: str, want: int) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None, enable_auto_commit=False)
    consumer.poll(timeout_ms=1000, max_records=1)  # connect and get metadata first
    consumer.seek_to_beginning()
    got = 0
    started = time.perf_counter()
    deadline = started + 120
    while got < want and time.perf_counter() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
            for record in batch:
                json.loads(record.value)
            got += len(batch)
    elapsed = time.perf_counter() - started
    consumer.close()
    if got < want:
        raise RuntimeError(f"consumed only {got} of {want} messages")
    return elapsed


def join_time(bootstrap: str, topic: str, session_ms: int) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"join-{session_ms}-"
                             f"{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest",
                             session_timeout_ms=session_ms,
                             heartbeat_interval_ms=min(3000, session_ms // 3))
    started = time.perf_counter()
    while not consumer.assignment() and time.perf_counter() - started < 120:
        consumer.poll(timeout_ms=200)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def main() -> None:
    with (tempfile.TemporaryDirectory() as tmp,
          standalone_broker(Path(tmp), {"bench": 6}) as bootstrap):
        messages = [_message(i) for i in range(MESSAGES)]
        base = empty_loop(messages)
        produced = produce(bootstrap, "bench", messages, 64 * 1024)
        consumed = consume(bootstrap, "bench", MESSAGES)
        unbatched = produce(bootstrap, "bench", messages[:10_000], 0)
        slow_join = join_time(bootstrap, "bench", 45_000)
        fast_join = join_time(bootstrap, "bench", 6_000)
    base_rate = MESSAGES / base
    rows = [
        {"measure": "empty loop (json in memory)", "value": base_rate, "unit": "msg/s",
         "ratio": 1.0},
        {"measure": "produce (kafka-python -> Tansu)", "value": MESSAGES / produced,
         "unit": "msg/s", "ratio": (MESSAGES / produced) / base_rate},
        {"measure": "produce, batch_size=0 (local default)", "value": 10_000 / unbatched,
         "unit": "msg/s", "ratio": (10_000 / unbatched) / base_rate},
        {"measure": "consume (Tansu -> kafka-python)", "value": MESSAGES / consumed,
         "unit": "msg/s", "ratio": (MESSAGES / consumed) / base_rate},
        {"measure": "group join, session 45 s (Kafka default)", "value": slow_join, "unit": "s",
         "ratio": slow_join / fast_join},
        {"measure": "group join, session 6 s (DOJO default)", "value": fast_join, "unit": "s",
         "ratio": 1.0},
    ]
    report("kafka", "empty loop / 6 s join", rows,
           notes=f"{MESSAGES:,} messages of ~250 bytes, 6 partitions. Join ratios are vs the "
                 "6 s join: the local broker waits half the session timeout before completing "
                 "a join. batch_size=0 keeps Tansu's end offsets exact (see Settings."
                 "kafka_producer_kwargs) at the cost shown.")


if __name__ == "__main__":
    main()

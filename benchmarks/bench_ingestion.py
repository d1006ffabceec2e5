"""Ingestion end to end: events/s from `transactions` to the Feast online store.

Baseline (same run, same topic, same broker): an empty-loop consumer group that only polls
and commits after each batch. The ratio is what validation, the window transform, the offline
append, the online push and the DLQ cost on top of moving the bytes. Join time is excluded
from both (the clock starts at the first batch).

Freshness (a second run, after the backlog is drained): events are produced at a steady
FRESHNESS_RATE, below the processor's capacity, and each event's age is taken from its Kafka
record timestamp (set by the producer at send) to the moment its batch's online write
returned. That is what the batch settings (poll timeout, adaptive size, time budget) cost a
feature row's freshness; the replay of a backlog would only measure the backlog.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka import KafkaConsumer, KafkaProducer

from _report import report
from dojo.contracts import DLQ_TOPIC, TRANSACTIONS_TOPIC
from dojo.features.batch import build_feature_tables, materialize
from dojo.features.store import apply_definitions, quiet_feast_warnings
from dojo.features.stream_processor import StreamProcessor
from dojo.ingestion import offline_store
from dojo.runtime.launch import standalone_broker
from dojo.settings import load_settings
from dojo.synthetic.generator import generate_history, generate_live
from dojo.synthetic.producer import encode_event, plan_events

EVENTS, USERS, MERCHANTS, HISTORY_ROWS = 20_000, 2_000, 400, 50_000
FRESHNESS_RATE, FRESHNESS_S = 1_000, 15  # events/s, seconds


def produce(address: str) -> None:
    now = datetime.now(UTC)
    live = generate_live(EVENTS, seed=3, users=USERS, merchants=MERCHANTS,
                         start=now - timedelta(minutes=20), span_s=19 * 60)
    producer = KafkaProducer(bootstrap_servers=address, linger_ms=5, acks="all")
    for event, ts in zip(plan_events(live, 0.0, seed=3), live["ts"], strict=True):
        producer.send(TRANSACTIONS_TOPIC, key=event.key, value=encode_event(event, ts))
    producer.flush()
    producer.close()


def empty_loop(address: str, batch_size: int) -> float:
    consumer = KafkaConsumer(TRANSACTIONS_TOPIC, bootstrap_servers=address, group_id="empty",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=6000, heartbeat_interval_ms=2000)
    got, started = 0, None
    deadline = time.monotonic() + 120
    while got < EVENTS and time.monotonic() < deadline:
        records = consumer.poll(timeout_ms=200, max_records=batch_size)
        if records:
            started = started or time.perf_counter()
            got += sum(len(batch) for batch in records.values())
            consumer.commit()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    if got < EVENTS:
        raise RuntimeError(f"empty loop consumed only {got} of {EVENTS}")
    return elapsed


def processor_run(settings) -> tuple[float, list[float], int]:
    processor = StreamProcessor(settings, group_id="bench")
    handle, marks, batches = processor._handle, {}, []

    def timed(records, stop) -> None:
        started = time.perf_counter()
        marks.setdefault("first", started)
        handle(records, stop)
        marks["last"] = time.perf_counter()
        batches.append(marks["last"] - started)

    processor._handle = timed  # type: ignore[method-assign]
    totals = processor.run(threading.Event(), until_idle_s=2)
    if totals.applied != EVENTS:
        raise RuntimeError(f"processor applied {totals.applied} of {EVENTS}")
    return marks["last"] - marks["first"], batches, processor.state.buffered_events


def produce_paced(address: str, processor: StreamProcessor) -> None:
    """Send FRESHNESS_RATE events/s for FRESHNESS_S, once the processor owns the partitions
    (events sent during its join would measure the join, not the batching)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        processor.consumer is not None and processor.consumer.assignment()
        and processor._assigned_at
    ):
        time.sleep(0.05)
    count = FRESHNESS_RATE * FRESHNESS_S
    live = generate_live(count, seed=4, users=USERS, merchants=MERCHANTS,
                         start=datetime.now(UTC), span_s=FRESHNESS_S)
    producer = KafkaProducer(bootstrap_servers=address, linger_ms=5, acks="all")
    started = time.monotonic()
    for i, event in enumerate(plan_events(live, 0.0, seed=4)):
        ahead = started + i / FRESHNESS_RATE - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)  # pacing the load, not waiting for a component
        producer.send(TRANSACTIONS_TOPIC, key=event.key,
                      value=encode_event(event, datetime.now(UTC)))
    producer.flush()
    producer.close()


def freshness_run(settings, address: str) -> list[float]:
    """Seconds from each event's record timestamp to its batch's online write returning."""
    processor = StreamProcessor(settings, group_id="bench")
    process, push = processor._process, processor._push
    ages: list[float] = []
    pushed_at = [0.0]

    def timed_push(users) -> None:
        push(users)
        pushed_at[0] = time.time()

    def timed_process(records):
        pushed_at[0] = 0.0
        outcome = process(records)
        if pushed_at[0]:
            ages.extend(pushed_at[0] - record.timestamp / 1000
                        for messages in records.values() for record in messages)
        return outcome

    processor._push = timed_push  # type: ignore[method-assign]
    processor._process = timed_process  # type: ignore[method-assign]
    sender = threading.Thread(target=produce_paced, args=(address, processor), daemon=True)
    sender.start()
    totals = processor.run(threading.Event(), until_idle_s=3)
    sender.join(timeout=60)
    expected = FRESHNESS_RATE * FRESHNESS_S
    if totals.applied + totals.duplicates != expected or len(ages) != expected:
        raise RuntimeError(f"freshness run saw {len(ages)} of {expected} events")
    return sorted(ages)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))]


def main() -> None:
    warnings.simplefilter("ignore")
    quiet_feast_warnings()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        topics = {TRANSACTIONS_TOPIC: 3, DLQ_TOPIC: 1}
        with standalone_broker(tmp / "broker", topics) as address:
            settings = load_settings(home=tmp / "home", kafka_bootstrap=address)
            history = generate_history(rows=HISTORY_ROWS, users=USERS, merchants=MERCHANTS,
                                       days=7, start_date=date.today() - timedelta(days=8))
            offline_store.write_transactions(history, settings.offline_dir)
            build_feature_tables(settings)
            materialize(apply_definitions(settings))
            produce(address)
            baseline_s = empty_loop(address, max(settings.stream_batch_size,
                                                      settings.stream_batch_max))
            wall_s, batches, buffered = processor_run(settings)
            ages = freshness_run(settings, address)
    rate, base_rate = EVENTS / wall_s, EVENTS / baseline_s
    batches.sort()
    rows = [
        {"measure": "processor events/s (topic -> online store)", "value": rate,
         "unit": "events/s", "ratio": rate / base_rate},
        {"measure": "empty-loop consumer events/s", "value": base_rate, "unit": "events/s",
         "ratio": 1.0},
        {"measure": "batch p50 (poll -> commit)", "value": statistics.median(batches) * 1000,
         "unit": "ms"},
        {"measure": "batch p99 (poll -> commit)", "value": percentile(batches, 0.99) * 1000,
         "unit": "ms"},
        {"measure": f"freshness p50 (produce -> online row), {FRESHNESS_RATE:,} events/s",
         "value": statistics.median(ages) * 1000, "unit": "ms"},
        {"measure": f"freshness p99 (produce -> online row), {FRESHNESS_RATE:,} events/s",
         "value": percentile(ages, 0.99) * 1000, "unit": "ms"},
        {"measure": "events buffered in window state", "value": buffered, "unit": "events"},
    ]
    report("ingestion", "empty-loop consumer group on the same topic", rows,
           notes=f"{EVENTS:,} events, {USERS:,} users, batch size {settings.stream_batch_size}"
                 f"-{settings.stream_batch_max} (budget {settings.stream_batch_budget_ms} ms, "
                 f"poll timeout {settings.stream_poll_timeout_ms} ms), SQLite online store, "
                 f"{HISTORY_ROWS:,} history rows in the offline store; freshness over "
                 f"{FRESHNESS_RATE * FRESHNESS_S:,} events sent at {FRESHNESS_RATE:,}/s.")


if __name__ == "__main__":
    main()

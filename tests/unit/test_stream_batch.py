"""One stream batch without Kafka: validation to the DLQ, offline append, online push, idempotency.

The broker and Feast are replaced by recording fakes so the batch logic is checked in
milliseconds; the same code against a real broker and Feast runs in tests/integration.
"""

from __future__ import annotations

import json
import threading
import time
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from kafka.errors import KafkaConnectionError

from dojo.contracts import DLQ_TOPIC
from dojo.features import spec
from dojo.features.merchant import compute_merchant_features
from dojo.features.store import expand, redis_connection_string
from dojo.features.stream_processor import StreamProcessor
from dojo.ingestion.dlq import REASON_HEADER, reason_label, reason_of
from dojo.ingestion.offline_store import read_transactions
from dojo.settings import load_settings

Record = namedtuple("Record", "topic partition offset key value headers")


class FakeFuture:
    def get(self, timeout: float | None = None) -> None:
        return None


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, list]] = []

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list) -> FakeFuture:
        self.sent.append((topic, value, headers))
        return FakeFuture()

    def flush(self, timeout: float | None = None) -> None:
        return None


class FakeStore:
    def __init__(self, fail: bool = False) -> None:
        self.pushes: list[pd.DataFrame] = []
        self.fail = fail

    def push(self, source: str, df: pd.DataFrame, to: object) -> None:
        if self.fail:
            raise ConnectionError("online store down")
        self.pushes.append(df.copy())


BASE = datetime.now(UTC) - timedelta(hours=1)


def event(i: int, seconds: float, user: str = "u1", **changes: object) -> bytes:
    body = {
        "transaction_id": f"tx{i:04d}", "ts": (BASE + timedelta(seconds=seconds)).isoformat(),
        "user_id": user, "card_id": "c1", "merchant_id": "m1", "merchant_category": "grocery",
        "amount": 12.5, "currency": "USD", "country": "US", "device_id": "d1", "channel": "pos",
    }
    body.update(changes)
    return json.dumps(body).encode()


def records(values: list[bytes | None]) -> dict:
    return {("transactions", 0): [
        Record("transactions", 0, offset, b"k", value, []) for offset, value in enumerate(values)
    ]}


@pytest.fixture
def processor(tmp_path: Path) -> StreamProcessor:
    settings = load_settings(home=tmp_path, stream_allowed_lateness_s=60)
    proc = StreamProcessor(settings, store=FakeStore())
    proc.producer = FakeProducer()
    return proc


def test_bad_events_go_to_the_dlq_with_reason_and_original_bytes(processor) -> None:
    bad = [b"{not json", None, event(2, 0, amount=-5), event(3, 0, currency="JPY"),
           json.dumps([1, 2]).encode(), event(4, 0, extra="field")]
    outcome = processor._process(records([event(1, 0), *bad]))
    assert (outcome.applied, outcome.dlq) == (1, len(bad))
    sent = processor.producer.sent
    assert [topic for topic, _, _ in sent] == [DLQ_TOPIC] * len(bad)
    assert [value for _, value, _ in sent] == [b if b else b"" for b in bad]
    reasons = [reason_of(headers) for _, _, headers in sent]
    assert reasons[0] == "not valid JSON"
    assert reasons[2].startswith("amount:")
    assert processor.metrics.count("dojo_stream_dlq", reason="amount") == 1
    assert processor.metrics.count("dojo_stream_events", outcome="dlq") == len(bad)


def test_valid_events_reach_offline_and_online_once(processor) -> None:
    batch = [event(1, 0), event(2, 30), event(1, 0), event(3, 40, user="u2")]
    outcome = processor._process(records(batch))
    assert (outcome.applied, outcome.duplicates) == (3, 1)
    stored = read_transactions(processor.settings.offline_dir, columns=spec.EVENT_COLUMNS)
    assert sorted(stored["transaction_id"]) == ["tx0001", "tx0002", "tx0003"]
    pushed = processor._store.pushes[-1].set_index("user_id")
    assert pushed.loc["u1", "txn_count_10m"] == 2
    # replaying the same batch (a crash before the commit) changes nothing
    again = processor._process(records(batch))
    assert (again.applied, again.duplicates) == (0, 4)
    stored = read_transactions(processor.settings.offline_dir, columns=spec.EVENT_COLUMNS)
    assert len(stored) == 3  # same file name: overwritten
    assert processor._store.pushes[-1].set_index("user_id").loc["u1", "txn_count_10m"] == 2


def test_implausible_amounts_are_applied_and_counted_not_dead_lettered(processor) -> None:
    # a producer that sends cents: valid events, a hundred times too large
    batch = [event(1, 0, amount=4029.0), event(2, 10, amount=9609.0), event(3, 20, amount=12.5)]
    outcome = processor._process(records(batch))
    assert (outcome.applied, outcome.dlq) == (3, 0)
    assert processor.metrics.count("dojo_stream_amount_out_of_range") == 1  # above 5,000
    assert processor.producer.sent == []


def test_late_events_beyond_the_lateness_go_to_the_dlq(processor) -> None:
    processor._process(records([event(1, 600)]))
    outcome = processor._process(records([event(2, 560), event(3, 500)]))
    assert (outcome.applied, outcome.dlq) == (1, 1)
    headers = processor.producer.sent[-1][2]
    assert reason_label(reason_of(headers)) == "late_event"
    assert dict(headers)[REASON_HEADER].startswith(b"late event: 100s behind")


def test_a_failed_online_write_raises_so_nothing_is_committed(tmp_path: Path) -> None:
    proc = StreamProcessor(load_settings(home=tmp_path), store=FakeStore(fail=True))
    proc.producer = FakeProducer()
    with pytest.raises(ConnectionError):
        proc._process(records([event(1, 0)]))
    assert proc.metrics.count("dojo_stream_write_failures", sink="online") == 1


def test_reason_labels_are_bounded() -> None:
    assert reason_label("amount: Input should be greater than 0") == "amount"
    assert reason_label("not valid JSON") == "not_valid_json"
    assert reason_label("late event: 900s behind") == "late_event"


def test_a_renamed_field_is_named_twice_in_the_reason() -> None:
    from dojo.contracts import InvalidEvent, validate_transaction
    from dojo.teaching.drills._legacy_pos import legacy_event

    _, value = legacy_event(3, defect="renamed")
    with pytest.raises(InvalidEvent) as caught:
        validate_transaction(value)
    reason = caught.value.reason
    assert reason == "amount: Field required; amount_eur: Extra inputs are not permitted"
    assert reason_label(reason) == "amount"
    with pytest.raises(InvalidEvent, match=r"^transaction_id: .*\(and \d+ more\)$"):
        validate_transaction(b"{}")


def test_merchant_features_only_use_labels_that_had_arrived() -> None:
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    labels = pd.DataFrame({
        "transaction_id": ["a", "b", "c", "d"], "merchant_id": ["m", "m", "m", "m"],
        "is_fraud": [False, True, False, True],
        "label_ts": [t0, t0 + pd.Timedelta(hours=1), t0 + pd.Timedelta(hours=1),
                     t0 + pd.Timedelta(days=5)],
    })
    rows = compute_merchant_features(labels, as_of=t0 + pd.Timedelta(days=1))
    assert rows["merchant_labelled_txn_count"].tolist() == [1, 3]  # d has not arrived
    assert rows["merchant_fraud_rate"].tolist() == [0.0, pytest.approx(1 / 3)]


def test_yaml_expansion_and_redis_connection_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLY_IN_ENV", "env")
    text = "a: ${DOJO_HOME}/x\nb: $ONLY_IN_ENV\nc: ${UNSET_VAR_XYZ}"
    assert expand(text, {"DOJO_HOME": "/h"}) == "a: /h/x\nb: env\nc: ${UNSET_VAR_XYZ}"
    assert redis_connection_string("redis://127.0.0.1:6380/2") == "127.0.0.1:6380,db=2"
    assert redis_connection_string("rediss://:pw@r:6379/0") == "r:6379,db=0,password=pw,ssl=true"


def test_two_processors_in_one_process_keep_their_own_counts(tmp_path: Path) -> None:
    # `import feast` switches prometheus_client to shared file-backed values; the processor's
    # metrics must not add up across instances (tests and benchmarks run several).
    import feast  # noqa: F401

    first, second = (StreamProcessor(load_settings(home=tmp_path / n), store=FakeStore(fail=True))
                     for n in ("a", "b"))
    for proc in (first, second):
        proc.producer = FakeProducer()
        with pytest.raises(ConnectionError):
            proc._process(records([event(1, 0)]))
    assert second.metrics.count("dojo_stream_write_failures", sink="online") == 1


class SlowJoinConsumer:
    """Joins during its first poll, slower than the idle limit (as a loaded machine does),
    then returns one event, then nothing."""

    def __init__(self, processor: StreamProcessor, join_s: float, batch: dict) -> None:
        self.processor, self.join_s, self.batches = processor, join_s, [batch]
        self.assigned: set = set()

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        if not self.assigned:
            time.sleep(self.join_s)
            self.assigned = {("transactions", 0)}
            self.processor.rebuild_state()  # what the rebalance listener does on assignment
            return {}
        if self.batches:
            return self.batches.pop()
        time.sleep(timeout_ms / 1000)
        return {}

    def assignment(self) -> set:
        return self.assigned

    def commit(self, timeout_ms: int) -> None:
        return None

    def close(self, autocommit: bool, timeout_ms: int) -> None:
        return None


def test_idle_exit_waits_for_the_first_batch_after_a_slow_join(processor) -> None:
    """`dojo stream --until-idle` (labs 16 and 17) stopped with nothing read when the group join
    took longer than the idle limit."""
    processor.settings = processor.settings.model_copy(update={"stream_poll_timeout_ms": 50})
    processor.consumer = SlowJoinConsumer(processor, join_s=0.6, batch=records([event(1, 0)]))
    processor.producer.close = lambda timeout=None: None
    processor._connect = lambda stop: True
    processor._update_lag = lambda: None
    totals = processor.run(threading.Event(), until_idle_s=0.3)
    assert totals.applied == 1


class BufferedConsumer:
    """Hands out records it already holds, at most ``max_records`` per poll, then fails or
    returns nothing; records the timeout of every poll."""

    def __init__(self, held: list[Record], fail_when_empty: bool = False) -> None:
        self.held, self.fail_when_empty, self.timeouts = list(held), fail_when_empty, []

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        self.timeouts.append(timeout_ms)
        if not self.held:
            if self.fail_when_empty:
                raise KafkaConnectionError("broker went away")
            return {}
        taken, self.held = self.held[:max_records], self.held[max_records:]
        out: dict = {}
        for record in taken:
            out.setdefault(("transactions", record.partition), []).append(record)
        return out


def held_records(partitions: list[int]) -> list[Record]:
    return [Record("transactions", p, offset, b"k", event(offset, offset), [])
            for offset, p in enumerate(partitions)]


@pytest.mark.parametrize("fail_when_empty", [False, True])
def test_a_batch_is_topped_up_without_waiting_and_keeps_partition_order(
    processor, fail_when_empty: bool
) -> None:
    held = held_records([0, 1, 0, 1, 0, 0, 1])
    processor.batch_size.size = 5
    processor.consumer = BufferedConsumer(held[2:], fail_when_empty)
    first = {("transactions", 0): [held[0]], ("transactions", 1): [held[1]]}
    batch = processor._top_up(first)
    assert sorted(r.offset for rs in batch.values() for r in rs) == [0, 1, 2, 3, 4]
    assert [r.offset for r in batch[("transactions", 0)]] == [0, 2, 4]
    assert processor.consumer.timeouts == [0]  # one poll filled it; none of them waited
    processor.batch_size.size = 100
    rest = processor._top_up({("transactions", 0): [held[0]]})
    assert [r.offset for r in rest[("transactions", 0)]] == [0, 5]
    assert [r.offset for r in rest[("transactions", 1)]] == [6]
    assert processor.consumer.timeouts == [0, 0, 0]  # the empty (or failed) poll ended it

"""`dojo generate stream` against a real Kafka-protocol broker on a free loopback port:
every event arrives keyed by user, the malformed ones are rejected by the validator for their
planned reason, and every valid event's label follows on `labels` after the delay."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from typer.testing import CliRunner

from dojo.cli import generate as generate_cli
from dojo.contracts import (
    LABELS_TOPIC,
    TRANSACTIONS_TOPIC,
    InvalidEvent,
    validate_transaction,
)
from dojo.runtime.launch import standalone_broker
from dojo.synthetic.generator import generate_live
from dojo.synthetic.producer import MALFORMED_KINDS

COUNT, FRACTION, SEED, DELAY_S = 200, 0.1, 11, 1.0




@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker of our own (in-memory storage), killed at teardown."""
    with standalone_broker(tmp_path_factory.mktemp("broker"), {TRANSACTIONS_TOPIC: 6}) as address:
        yield address


def _consume(address: str, want: dict[str, int], deadline_s: float = 45.0) -> dict[str, list]:
    consumer = KafkaConsumer(
        *want, bootstrap_servers=address, group_id=f"check-{time.monotonic_ns()}",
        auto_offset_reset="earliest", enable_auto_commit=False,
        # the local broker completes a group join after half the session timeout
        session_timeout_ms=6000, heartbeat_interval_ms=2000,
    )
    got: dict[str, list] = {topic: [] for topic in want}
    deadline = time.monotonic() + deadline_s
    try:
        while any(len(got[t]) < n for t, n in want.items()) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    got[record.topic].append(record)
    finally:
        consumer.close()
    return got


def test_stream_delivers_events_malformed_events_and_late_labels(
    broker: str, tmp_path: Path,
) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(
        generate_cli.app,
        ["stream", "--count", str(COUNT), "--rate", "0", "--seed", str(SEED),
         "--malformed-fraction", str(FRACTION), "--label-delay-s", str(DELAY_S)],
        env={"DOJO_HOME": str(tmp_path), "DOJO_KAFKA_BOOTSTRAP": broker, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= DELAY_S  # the labels waited for their delay
    n_bad = round(COUNT * FRACTION)
    assert f"{n_bad:,} (should end up in transactions.dlq)" in result.output

    got = _consume(broker, {TRANSACTIONS_TOPIC: COUNT, LABELS_TOPIC: COUNT - n_bad})
    events, labels = got[TRANSACTIONS_TOPIC], got[LABELS_TOPIC]
    assert len(events) == COUNT and len(labels) == COUNT - n_bad

    valid, reasons = {}, []
    partitions_of_key: dict[bytes, set[int]] = {}
    for record in events:
        partitions_of_key.setdefault(record.key, set()).add(record.partition)
        try:
            tx = validate_transaction(record.value)
        except InvalidEvent as error:
            reasons.append(error.reason)
            continue
        assert record.key == tx.user_id.encode()
        valid[tx.transaction_id] = tx
    assert len(reasons) == n_bad
    assert all(any(part in reason for part in MALFORMED_KINDS.values()) for reason in reasons)
    assert all(len(parts) == 1 for parts in partitions_of_key.values())  # keyed: one partition
    assert len({r.partition for r in events}) > 1  # ...and the users spread over partitions

    # the same seed plans the same events: ids and fraud flags match the generator's rows
    planned = generate_live(COUNT, SEED).set_index("transaction_id")
    assert set(valid) <= set(planned.index)
    for record in labels:
        label = json.loads(record.value)
        assert record.key.decode() == label["transaction_id"]
        tx = valid.pop(label["transaction_id"])  # each valid event labelled exactly once
        assert label["is_fraud"] == bool(planned.loc[tx.transaction_id, "is_fraud"])
        lag = datetime.fromisoformat(label["label_ts"]) - tx.ts
        assert lag == timedelta(seconds=DELAY_S)
    assert not valid

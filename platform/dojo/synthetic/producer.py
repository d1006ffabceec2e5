"""Send live transactions to Kafka at a steady rate, some deliberately broken, labels later.

What goes on the wire:
- ``transactions``: one JSON ``Transaction`` per event, keyed by user_id (a user's events stay
  in one partition, so per-user order holds), stamped with the send time as event time.
- a share of them malformed on purpose (``MALFORMED_KINDS``): raw bytes the stream processor's
  ``validate_transaction`` must reject and route to the DLQ with a recognisable reason.
- ``labels``: one ``Label`` per valid event, keyed by transaction_id, sent ``label_delay_s``
  after the event. Real chargebacks take days; a short delay shows the same late-label join
  in a demo.

Why a deadline schedule for the rate: event i is due at ``start + i / rate``, so a slow send
does not shift every later event and the average rate stays what was asked for.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError

from dojo.contracts import LABELS_TOPIC, TRANSACTION_FIELDS, TRANSACTIONS_TOPIC, Label

log = structlog.get_logger(__name__)

# kind -> a piece of the reason ``validate_transaction`` gives for it (tests and drills match it)
MALFORMED_KINDS: dict[str, str] = {
    "negative_amount": "amount: Input should be greater than 0",
    "unknown_currency": "currency: Input should be",
    "missing_field": "Field required",
    "future_ts": "in the future",
    "naive_ts": "must carry a timezone",
    "wrong_type": "amount: Input should be a valid number",
    "not_json": "not valid JSON",
}
# Fields a "missing_field" event may lack; which one is fixed by the transaction id.
_DROPPABLE = ("merchant_id", "card_id", "amount", "device_id", "country")


@dataclass(frozen=True)
class OutgoingEvent:
    """One planned send: the record (without ts, set at send time) and what is wrong with it."""

    key: bytes
    record: dict[str, object]
    malformed: str | None
    is_fraud: bool
    fraud_pattern: str | None


def plan_events(frame: pd.DataFrame, malformed_fraction: float, seed: int) -> list[OutgoingEvent]:
    """Turn generated rows into planned sends; exactly ``round(len * fraction)`` malformed, the
    kinds taking turns so every kind appears once there are enough of them."""
    if not 0.0 <= malformed_fraction <= 1.0:
        raise ValueError(f"malformed_fraction must be within [0, 1], got {malformed_fraction}")
    n = len(frame)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    n_bad = round(n * malformed_fraction)
    kinds: list[str | None] = [None] * n
    bad_rows = rng.choice(n, size=n_bad, replace=False)
    bad_kinds = rng.permutation(np.resize(np.array(list(MALFORMED_KINDS)), n_bad))
    for row, kind in zip(bad_rows.tolist(), bad_kinds.tolist(), strict=True):
        kinds[row] = kind
    records = frame[list(TRANSACTION_FIELDS)].drop(columns="ts").to_dict("records")
    flags = frame["is_fraud"].tolist()
    patterns = frame["fraud_pattern"].tolist()
    return [
        OutgoingEvent(str(rec["user_id"]).encode(), rec, kind, flag, pattern)
        for rec, kind, flag, pattern in zip(records, kinds, flags, patterns, strict=True)
    ]


def encode_event(event: OutgoingEvent, ts: datetime) -> bytes:
    """The bytes to send: valid JSON, or the planned defect."""
    record = {"transaction_id": event.record["transaction_id"], "ts": ts.isoformat(),
              **{k: v for k, v in event.record.items() if k != "transaction_id"}}
    kind = event.malformed
    if kind == "negative_amount":
        record["amount"] = -abs(float(record["amount"]))  # type: ignore[arg-type]
    elif kind == "unknown_currency":
        record["currency"] = "CHF"
    elif kind == "missing_field":
        tx_id = str(record["transaction_id"])
        del record[_DROPPABLE[int(tx_id[-1], 16) % len(_DROPPABLE)]]
    elif kind == "future_ts":
        record["ts"] = (ts + timedelta(days=2)).isoformat()
    elif kind == "naive_ts":
        record["ts"] = ts.replace(tzinfo=None).isoformat()
    elif kind == "wrong_type":
        record["amount"] = f"{record['amount']:.2f} {record['currency']}".replace(".", ",")
    body = json.dumps(record, separators=(",", ":")).encode()
    if kind == "not_json":
        return body[: len(body) // 2]  # cut mid-record, as a crashed producer would leave it
    return body


def encode_label(event: OutgoingEvent, label_ts: datetime) -> bytes:
    label = Label(transaction_id=str(event.record["transaction_id"]), is_fraud=event.is_fraud,
                  label_ts=label_ts, fraud_pattern=event.fraud_pattern)
    return label.model_dump_json().encode()


class BrokerUnavailable(RuntimeError):
    """No broker answered at ``address`` within the connect deadline."""

    def __init__(self, address: str, waited_s: float, cause: str) -> None:
        super().__init__(f"no Kafka broker answered at {address} within {waited_s:.0f} s "
                         f"({cause})")
        self.address = address


def connect_producer(bootstrap: str, *, timeout_s: float = 15.0,
                     sleep: Callable[[float], None] = time.sleep,
                     options: dict[str, Any] | None = None) -> KafkaProducer:
    """A connected producer, retrying with exponential backoff until ``timeout_s``.

    Why retry: ``dojo up`` and a generator started right after it race; the broker usually
    answers within a second or two, and a clean failure after the deadline is better than
    a hang or a traceback.
    """
    deadline = time.monotonic() + timeout_s
    backoff, attempt = 0.25, 0
    while True:
        attempt += 1
        budget_ms = int(max(0.2, min(deadline - time.monotonic(), 2.0)) * 1000)
        try:
            return KafkaProducer(
                bootstrap_servers=bootstrap, client_id="dojo-generator",
                bootstrap_timeout_ms=budget_ms, acks="all", linger_ms=5, max_block_ms=10_000,
                **{k: v for k, v in (options or {}).items() if k != "bootstrap_servers"},
            )
        except KafkaError as error:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerUnavailable(bootstrap, timeout_s, type(error).__name__) from None
            wait = min(backoff, remaining)
            log.warning("broker_unreachable_retrying", bootstrap=bootstrap, attempt=attempt,
                        retry_in_s=round(wait, 2))
            sleep(wait)
            backoff = min(backoff * 2, 4.0)


@dataclass
class StreamStats:
    """Running totals; the summary the CLI prints and the tests check."""

    sent: int = 0
    malformed: int = 0
    labels: int = 0
    failed: int = 0
    partitions: dict[str, set[int]] = field(default_factory=dict)
    first_error: str | None = None
    events_s: float = 0.0  # until the last event was handed over (the rate's denominator)
    elapsed_s: float = 0.0  # until the last label was acknowledged
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delivered(self, metadata: object) -> None:  # runs on the producer's I/O thread
        with self._lock:
            self.partitions.setdefault(metadata.topic, set()).add(metadata.partition)  # type: ignore[attr-defined]

    def undelivered(self, error: Exception) -> None:
        with self._lock:
            self.failed += 1
            self.first_error = self.first_error or f"{type(error).__name__}: {error}"


def stream_events(producer: KafkaProducer, events: Iterable[OutgoingEvent], *, rate: float,
                  label_delay_s: float, topic: str = TRANSACTIONS_TOPIC,
                  labels_topic: str = LABELS_TOPIC,
                  on_progress: Callable[[StreamStats], None] | None = None,
                  flush_timeout_s: float = 30.0) -> StreamStats:
    """Send every event (``rate`` per second, 0 = as fast as possible), then the labels as
    they fall due; returns once everything is acknowledged or has failed."""
    stats = StreamStats()
    pending: deque[tuple[float, bytes, bytes]] = deque()  # (due, key, label) in due order
    t0 = time.monotonic()

    def send(target: str, key: bytes, value: bytes) -> None:
        future = producer.send(target, key=key, value=value)
        future.add_callback(stats.delivered)
        future.add_errback(stats.undelivered)

    def send_due_labels(until: float) -> None:
        """Send due labels; sleep (waking for labels) until ``until`` on the monotonic clock."""
        while True:
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                _, key, label = pending.popleft()
                send(labels_topic, key, label)
                stats.labels += 1
                if on_progress is not None:
                    on_progress(stats)
            if now >= until:
                return
            time.sleep(min(until, pending[0][0]) - now if pending else until - now)

    for i, event in enumerate(events):
        send_due_labels(t0 + i / rate if rate > 0 else 0.0)
        now = datetime.now(UTC)
        send(topic, event.key, encode_event(event, now))
        stats.sent += 1
        if event.malformed:
            stats.malformed += 1
        else:
            due = time.monotonic() + label_delay_s
            label = encode_label(event, now + timedelta(seconds=label_delay_s))
            pending.append((due, str(event.record["transaction_id"]).encode(), label))
        if on_progress is not None:
            on_progress(stats)
    stats.events_s = time.monotonic() - t0
    send_due_labels(pending[-1][0] if pending else 0.0)
    producer.flush(timeout=flush_timeout_s)
    stats.elapsed_s = time.monotonic() - t0
    return stats

"""Every prediction to the Kafka topic `predictions`, off the request path, bounded.

Why a bounded buffer and a counter instead of blocking or an unbounded queue: when the broker
is slow or down, blocking would turn a logging problem into failed fraud checks, and an
unbounded queue would grow until the process is killed. So a full buffer drops the newest
records, counts them in `dojo_serving_prediction_log_dropped_total` and logs it (at most once
a second): the loss is visible, the responses are not affected. The drift monitor reads this
topic, so the count also says how much of its window is missing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from dojo.contracts import PREDICTIONS_TOPIC
from dojo.serving.metrics import ServingMetrics
from dojo.settings import Settings

log = structlog.get_logger(__name__)

BUFFER_FULL, SEND_FAILED = "buffer_full", "send_failed"
# A record the broker has not acknowledged after this long is counted as lost.
DELIVERY_TIMEOUT_MS = 15_000
# How long the sender may wait for metadata when the broker is down before it gives up a send.
MAX_BLOCK_MS = 2_000


class Producer(Protocol):
    def send(self, topic: str, value: bytes, key: bytes) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...
    def close(self, timeout: float | None = None) -> None: ...


def kafka_producer(settings: Settings) -> Producer:
    from kafka import KafkaProducer

    return KafkaProducer(
        **settings.kafka_producer_kwargs(), client_id="dojo-model-server", acks=1,
        linger_ms=5, max_block_ms=MAX_BLOCK_MS, request_timeout_ms=5_000,
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS, retries=3,
    )


class PredictionLog:
    """``offer`` never blocks; a thread sends what was offered to `predictions`."""

    def __init__(self, settings: Settings, metrics: ServingMetrics,
                 producer_factory: Callable[[Settings], Producer] = kafka_producer,
                 capacity: int | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.capacity = capacity or settings.serving_prediction_log_buffer
        self._factory = producer_factory
        self._buffer: deque[dict[str, Any]] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Producer | None = None
        self._last_warning = 0.0
        self.lost: dict[str, int] = {BUFFER_FULL: 0, SEND_FAILED: 0}
        self.problem: str | None = None

    def offer(self, records: list[dict[str, Any]]) -> int:
        """Queue records; return how many were dropped (counted and logged, never silent)."""
        with self._ready:
            room = self.capacity - len(self._buffer)
            taken = records[:max(0, room)]
            self._buffer.extend(taken)
            self._ready.notify()
        dropped = len(records) - len(taken)
        if dropped:
            self._lost(BUFFER_FULL, dropped)
        return dropped

    def pending(self) -> int:
        return len(self._buffer)

    def _lost(self, reason: str, count: int) -> None:
        self.metrics.log_dropped.labels(reason).inc(count)
        self.lost[reason] += count
        now = time.monotonic()
        if now - self._last_warning >= 1.0:
            self._last_warning = now
            log.warning("serving.prediction_log_loss", reason=reason, records=count,
                        total=self.lost[reason])

    # ------------------------------------------------------------------ sender thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is buffered (up to ``timeout_s``), then close the producer."""
        deadline = time.monotonic() + timeout_s
        while self._buffer and self._producer is not None and time.monotonic() < deadline:
            with self._ready:
                self._ready.notify()
            self._stop.wait(0.05)  # waiting for the sender to drain, bounded by the deadline
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        if self._producer is not None:
            try:
                self._producer.flush(timeout=max(0.1, deadline - time.monotonic()))
                self._producer.close(timeout=1.0)
            except Exception as error:
                log.warning("serving.prediction_log_close_failed", error=str(error))

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._producer is None:
                try:
                    self._producer = self._factory(self.settings)
                    self.problem = None
                except Exception as error:
                    self.problem = f"no broker at {self.settings.bootstrap_servers} " \
                                   f"({type(error).__name__})"
                    self._stop.wait(1.0)  # retry interval while the broker is down
                    continue
            with self._ready:
                if not self._buffer:
                    self._ready.wait(timeout=0.5)
                batch = [self._buffer.popleft() for _ in range(min(len(self._buffer), 500))]
            for record in batch:
                self._send(record)

    def _send(self, record: dict[str, Any]) -> None:
        assert self._producer is not None
        try:
            future = self._producer.send(PREDICTIONS_TOPIC, value=encode(record),
                                         key=record["user_id"].encode())
        except Exception as error:  # metadata unavailable within MAX_BLOCK_MS, buffer full
            self.problem = f"send failed: {type(error).__name__}"
            self._lost(SEND_FAILED, 1)
            return
        if hasattr(future, "add_callback"):
            future.add_callback(self._acknowledged)
            future.add_errback(self._failed)
        else:
            self.metrics.log_sent.inc()

    def _acknowledged(self, _metadata: object) -> None:
        self.problem = None
        self.metrics.log_sent.inc()

    def _failed(self, error: BaseException) -> None:
        self.problem = f"send failed: {type(error).__name__}"
        self._lost(SEND_FAILED, 1)


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=_default).encode()


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float) and value != value:
        return None
    return str(value)

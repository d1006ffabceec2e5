"""Prometheus metrics of the stream processor (lag, throughput, DLQ, latency, freshness).

Why a registry per processor instead of the global one: tests run several processors in one
Python process, and the global registry refuses a second metric with the same name. The HTTP
endpoint serves exactly this processor's registry.
"""

from __future__ import annotations

import time
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client import values as prometheus_values

# A batch takes milliseconds when idle-small and seconds when the online store is slow.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000)


def use_in_memory_values() -> None:
    """Undo the multiprocess mode that importing Feast switches on for the whole process.

    `import feast` sets PROMETHEUS_MULTIPROC_DIR (feast/metrics.py, meant for its Gunicorn
    feature server) before prometheus_client is imported, so every metric becomes a file-backed
    value shared by all metrics of the same name in the process: two processors in one test
    process would add up each other's counts. The stream processor is one process with its own
    registry, so plain in-memory values are the right kind. Called at start, never at import.
    """
    prometheus_values.ValueClass = prometheus_values.MutexValue


class StreamMetrics:
    """The processor's metrics; `serve` exposes them on /metrics."""

    def __init__(self) -> None:
        use_in_memory_values()
        self.registry = CollectorRegistry()
        self._newest_pushed_ts: float | None = None
        self.events = Counter(
            "dojo_stream_events", "Events consumed from `transactions`, by outcome "
            "(applied, duplicate = already counted by transaction_id, dlq).",
            ["outcome"], registry=self.registry,
        )
        self.dlq = Counter(
            "dojo_stream_dlq", "Events sent to the DLQ, by reason.", ["reason"],
            registry=self.registry,
        )
        self.amount_out_of_range = Counter(
            "dojo_stream_amount_out_of_range", "Valid events whose amount is above "
            "DOJO_STREAM_AMOUNT_MAX (applied, not dead-lettered: a range check, not a contract).",
            registry=self.registry,
        )
        self.lag = Gauge(
            "dojo_stream_consumer_lag_messages",
            "Messages in the partition not yet consumed (high watermark - position).",
            ["topic", "partition"], registry=self.registry,
        )
        self.batch_duration = Histogram(
            "dojo_stream_batch_duration_seconds",
            "Poll-to-commit time of one batch (validate, DLQ, offline append, online push).",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.batch_events = Histogram(
            "dojo_stream_batch_events", "Events in one batch (it grows under a backlog).",
            buckets=BATCH_SIZE_BUCKETS, registry=self.registry,
        )
        self.batch_limit = Gauge(
            "dojo_stream_batch_limit_events",
            "The next poll's max_records: adaptive between DOJO_STREAM_BATCH_SIZE and "
            "DOJO_STREAM_BATCH_MAX, within DOJO_STREAM_BATCH_BUDGET_MS per batch.",
            registry=self.registry,
        )
        self.freshness = Gauge(
            "dojo_stream_feature_freshness_seconds",
            "Now minus the event time of the newest event pushed to the online store.",
            registry=self.registry,
        )
        self.freshness.set_function(self._freshness_now)
        self.pushed_rows = Counter(
            "dojo_stream_online_rows", "Feature rows pushed to the online store.",
            registry=self.registry,
        )
        self.write_failures = Counter(
            "dojo_stream_write_failures", "Batches whose writes failed (re-read after recovery).",
            ["sink"], registry=self.registry,
        )
        self.broker_retries = Counter(
            "dojo_stream_broker_retries", "Attempts to reach the broker that failed.",
            registry=self.registry,
        )
        self._server: WSGIServer | None = None

    def _freshness_now(self) -> float:
        if self._newest_pushed_ts is None:
            return float("nan")
        return max(0.0, time.time() - self._newest_pushed_ts)

    def mark_pushed(self, newest_event_epoch_s: float) -> None:
        if self._newest_pushed_ts is None or newest_event_epoch_s > self._newest_pushed_ts:
            self._newest_pushed_ts = newest_event_epoch_s

    def serve(self, host: str, port: int) -> None:
        """Start the /metrics endpoint in a daemon thread."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def count(self, name: str, **labels: str) -> float:
        """Current value of a counter sample (for tests and the end-of-run summary)."""
        value = self.registry.get_sample_value(f"{name}_total", labels or None)
        return value or 0.0

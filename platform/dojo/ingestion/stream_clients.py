"""Kafka clients of the stream processor, and how it waits for a broker that is away.

Why its own module: the processor's batch logic should read as "validate, write, commit";
the client settings that make that safe (manual commits, short bootstrap timeouts so each
retry is logged, a capped backoff) live here with the reason for each.
"""

from __future__ import annotations

import socket
import threading

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer

from dojo.settings import Settings

log = structlog.get_logger(__name__)

# kafka-python waits 30 s to bootstrap by default; 5 s gives one log line per attempt at a
# pace a person watching `dojo logs` can follow, and the backoff below spaces them out.
BOOTSTRAP_TIMEOUT_MS = 5000
# Reconnect quickly once the broker is back (kafka-python's default cap is 30 s).
RECONNECT_BACKOFF_MAX_MS = 2000


def make_consumer(settings: Settings, group_id: str, topic: str,
                  listener: ConsumerRebalanceListener) -> KafkaConsumer:
    """A group member that never commits on its own: offsets move only after the writes."""
    consumer = KafkaConsumer(
        **settings.kafka_consumer_kwargs(),
        group_id=group_id,
        client_id="dojo-stream",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.stream_batch_size,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
    )
    consumer.subscribe([topic], listener=listener)
    return consumer


def make_dlq_producer(settings: Settings) -> KafkaProducer:
    """acks=all: a DLQ message counts as written only once the broker has it durably."""
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, client_id="dojo-stream-dlq", acks="all",
        linger_ms=5, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
    )


def backoff_s(attempt: int, cap_s: float) -> float:
    """0.5 s, 1 s, 2 s, ... capped: fast recovery from a blip, no hammering of a dead broker."""
    return min(cap_s, 0.5 * 2 ** min(attempt - 1, 10))


def wait_retry(stop: threading.Event, settings: Settings, attempt: int, during: str,
               error: object) -> None:
    """Log this attempt (one line each, so an outage is visible) and sleep unless stopping."""
    delay = backoff_s(attempt, settings.stream_retry_max_s)
    log.warning("stream.broker_unavailable", during=during, attempt=attempt,
                retry_in_s=round(delay, 2), error=str(error),
                bootstrap=settings.bootstrap_servers)
    stop.wait(delay)


def broker_reachable(bootstrap_servers: str) -> bool:
    """A TCP connect to any bootstrap server: cheap, tried only after an empty poll.

    kafka-python hides an outage (poll just returns nothing), so without this an idle stream
    and a dead broker look the same.
    """
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return True
        except OSError:
            continue
    return False

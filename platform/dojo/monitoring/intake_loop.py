"""Read `predictions` and `labels` into the window, with the offsets kept in the window file.

Why assigned partitions and no consumer group: the monitor is one process whose position
lives in its own state file (window.py), written in the same transaction as the rows. A group
would add a second place to keep offsets and a rebalance wait (half the session timeout) on
every start, for nothing: there is no second member to share partitions with.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

import structlog
from kafka import KafkaConsumer, TopicPartition

from dojo.contracts import LABELS_TOPIC, PREDICTIONS_TOPIC
from dojo.ingestion.stream_clients import (
    BOOTSTRAP_TIMEOUT_MS,
    RECONNECT_BACKOFF_MAX_MS,
    backoff_s,
)
from dojo.monitoring.intake import Rejected, parse_label, parse_prediction
from dojo.monitoring.metrics import MonitorMetrics
from dojo.monitoring.window import LabelRow, PredictionRow, Window
from dojo.settings import Settings

log = structlog.get_logger(__name__)
TOPICS = (PREDICTIONS_TOPIC, LABELS_TOPIC)
MAX_POLL_RECORDS = 2000


class Intake:
    """One consumer over every partition of both topics, resuming at the stored offsets."""

    def __init__(self, settings: Settings, window: Window, metrics: MonitorMetrics,
                 consumer_factory: Callable[[Settings], KafkaConsumer] | None = None) -> None:
        self.settings, self.window, self.metrics = settings, window, metrics
        self._factory = consumer_factory or _consumer
        self._consumer: KafkaConsumer | None = None
        self.problem: str | None = None

    def _assign(self) -> KafkaConsumer:
        consumer = self._factory(self.settings)
        partitions = []
        for topic in TOPICS:
            for p in sorted(consumer.partitions_for_topic(topic) or ()):
                partitions.append(TopicPartition(topic, p))
        if not partitions:
            consumer.close()
            raise ConnectionError(f"no partitions for {', '.join(TOPICS)} yet")
        consumer.assign(partitions)
        stored = self.window.offsets()
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            position = stored.get((tp.topic, tp.partition))
            # Past the end: the topic was recreated (the local broker keeps topics in memory,
            # so a restart empties them); its messages are new, read them from the start.
            if position is not None and position > ends.get(tp, 0):
                log.warning("monitor.offset_past_end", topic=tp.topic, partition=tp.partition,
                            stored=position, end=ends.get(tp, 0))
                position = None
            if position is not None:
                consumer.seek(tp, position)
            else:
                consumer.seek_to_beginning(tp)
        log.info("monitor.intake_assigned", partitions=len(partitions),
                 resumed=sum((tp.topic, tp.partition) in stored for tp in partitions))
        return consumer

    def poll_once(self, timeout_ms: int = 500) -> int:
        """One poll, applied to the window in one transaction; returns messages read."""
        if self._consumer is None:
            self._consumer = self._assign()
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=MAX_POLL_RECORDS)
        predictions: list[PredictionRow] = []
        labels: list[LabelRow] = []
        bad: dict[str, int] = defaultdict(int)
        offsets: dict[tuple[str, int], int] = {}
        read = 0
        for tp, messages in batches.items():
            for message in messages:
                read += 1
                try:
                    if tp.topic == PREDICTIONS_TOPIC:
                        predictions.append(parse_prediction(message.value))
                    else:
                        labels.append(parse_label(message.value))
                except Rejected as error:
                    bad[f"{tp.topic}:{error.reason}"] += 1
                    self.metrics.bad_messages.labels(tp.topic, error.reason).inc()
                    log.warning("monitor.bad_message", topic=tp.topic, partition=tp.partition,
                                offset=message.offset, reason=error.reason, detail=error.detail)
                offsets[(tp.topic, tp.partition)] = message.offset + 1
        if read:
            self.window.apply(predictions, labels, offsets, bad)
            self.metrics.messages.labels(PREDICTIONS_TOPIC).inc(len(predictions))
            self.metrics.messages.labels(LABELS_TOPIC).inc(len(labels))
        return read

    def update_lag(self) -> None:
        if self._consumer is None:
            return
        assigned = list(self._consumer.assignment())
        ends = self._consumer.end_offsets(assigned)
        lag: dict[str, int] = defaultdict(int)
        for tp in assigned:
            lag[tp.topic] += max(0, ends.get(tp, 0) - self._consumer.position(tp))
        for topic in TOPICS:
            self.metrics.lag.labels(topic).set(lag.get(topic, 0))

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop``; a broker that is away is retried with backoff, never fatal."""
        attempt = 0
        polls = 0
        while not stop.is_set():
            try:
                self.poll_once()
                polls += 1
                if polls % 10 == 1:
                    self.update_lag()
                attempt, self.problem = 0, None
            except Exception as error:  # the broker is away, or a topic is missing
                attempt += 1
                self.problem = f"{type(error).__name__}: {error}"[:200]
                self.close()
                delay = backoff_s(attempt, self.settings.stream_retry_max_s)
                log.warning("monitor.intake_retry", attempt=attempt, retry_in_s=delay,
                            error=self.problem, bootstrap=self.settings.bootstrap_servers)
                stop.wait(delay)
        self.close()

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception as error:
                log.warning("monitor.intake_close_failed", error=str(error))
            self._consumer = None


def _consumer(settings: Settings) -> KafkaConsumer:
    kwargs = settings.kafka_consumer_kwargs()
    return KafkaConsumer(
        bootstrap_servers=kwargs["bootstrap_servers"], client_id="dojo-monitor",
        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        allow_auto_create_topics=False, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS)

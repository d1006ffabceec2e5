"""The stream processor: `transactions` -> validation -> windowed features -> Feast + offline store.

Delivery: at-least-once with idempotent effects. For each polled batch the processor sends the
bad events to the DLQ, appends the good ones to the offline store, pushes the users' newest
feature rows to Feast's online store, and only then commits the offsets. A crash anywhere
before the commit replays the batch; the replay changes nothing because the window state is
rebuilt from the offline store on (re)assignment and deduplicated by transaction_id.

Failure handling: bad input never raises (it goes to the DLQ with a reason); a failed write
drops the batch and rejoins the group, so the new member starts at the committed offsets with
state rebuilt from the offline store; an unreachable broker is retried with capped exponential
backoff and one log line per attempt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import structlog
from feast import FeatureStore
from feast.data_source import PushMode
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError

from dojo.contracts import DLQ_TOPIC, TRANSACTIONS_TOPIC, InvalidEvent, validate_transaction
from dojo.features.batch_sizing import AdaptiveBatchSize
from dojo.features.spec import (
    CREATED_COLUMN,
    TIMESTAMP_COLUMN,
    USER_PUSH_SOURCE,
)
from dojo.features.state import FeatureState, Outcome
from dojo.features.state_rebuild import read_state_events
from dojo.features.store import apply_definitions
from dojo.features.stream_metrics import StreamMetrics
from dojo.ingestion.dlq import dlq_headers, reason_label
from dojo.ingestion.raw_sink import append_transactions
from dojo.ingestion.stream_clients import (
    backoff_s,
    broker_reachable,
    make_consumer,
    make_dlq_producer,
    wait_retry,
)
from dojo.settings import Settings

log = structlog.get_logger(__name__)

# How long the stream may be quiet before the processor checks the broker still answers.
PROBE_EVERY_S = 2.0


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    dlq: int = 0


class _Rebuild(ConsumerRebalanceListener):
    """Rebuild the window state whenever partitions are (re)assigned to this consumer."""

    def __init__(self, processor: StreamProcessor) -> None:
        self.processor = processor

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Offsets are committed after every batch, so nothing is pending here (except during
        # a batch's top-up polls: see `_top_up`).
        log.info("stream.partitions_revoked", partitions=sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        log.info("stream.partitions_assigned", partitions=sorted(tp.partition for tp in assigned))
        self.processor.rebuild_state()


class StreamProcessor:
    """One member of the `dojo stream` consumer group; `run` until `stop` is set."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: FeatureStore | None = None,
        metrics: StreamMetrics | None = None,
        group_id: str | None = None,
        topic: str = TRANSACTIONS_TOPIC,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id or settings.stream_group_id
        self.metrics = metrics or StreamMetrics()
        self.state = FeatureState(settings.stream_allowed_lateness_s)
        self.batch_size = AdaptiveBatchSize(
            floor=settings.stream_batch_size, ceiling=settings.stream_batch_max,
            budget_s=settings.stream_batch_budget_ms / 1000,
        )
        self.metrics.batch_limit.set(self.batch_size.size)
        self._store = store
        self.consumer: KafkaConsumer | None = None
        self.producer: KafkaProducer | None = None
        self.totals = BatchOutcome()
        self._failures = 0
        self._assigned_at = 0.0  # when partitions were last (re)assigned and state rebuilt

    # --- lifecycle -------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, until_idle_s: float | None = None) -> BatchOutcome:
        """Consume until ``stop`` is set (or nothing arrived for ``until_idle_s``).

        A stop request is honoured between batches: the current batch is written and committed,
        then the consumer leaves the group so its partitions move at once, not after a timeout.
        """
        store = self._store or apply_definitions(self.settings)
        self._store = store
        if not self._connect(stop):
            return self.totals
        idle_since = last_probe = time.monotonic()
        outage = 0
        try:
            while not stop.is_set():
                try:
                    records = self.consumer.poll(
                        timeout_ms=self.settings.stream_poll_timeout_ms,
                        max_records=self.batch_size.size,
                    )
                except KafkaError as error:
                    outage += 1
                    self._wait_retry(stop, outage, "poll", error)
                    continue
                if not records:
                    # Probe the broker at most every PROBE_EVERY_S of quiet, not every poll.
                    probe = outage or time.monotonic() - last_probe > PROBE_EVERY_S
                    if probe:
                        last_probe = time.monotonic()
                    if probe and not broker_reachable(self.settings.bootstrap_servers):
                        outage += 1
                        self._wait_retry(stop, outage, "broker", "connection refused")
                        continue
                    if outage:
                        log.info("stream.broker_back", after_attempts=outage)
                        outage = 0
                    self._update_lag()
                    # Idle time counts from the later of the last batch and the last
                    # assignment: a join (half the session timeout) plus the state rebuild can
                    # outlast `until_idle_s` inside one poll, and must not count as quiet.
                    quiet_since = max(idle_since, self._assigned_at)
                    if not self.consumer.assignment():  # still joining: not idle yet
                        idle_since = time.monotonic()
                    elif until_idle_s is not None and time.monotonic() - quiet_since > until_idle_s:
                        log.info("stream.idle_exit", idle_s=until_idle_s)
                        break
                    continue
                outage = 0
                self._handle(self._top_up(records), stop)
                idle_since = time.monotonic()
        finally:
            self._close()
        return self.totals

    def _top_up(self, records: dict) -> dict:
        """Add what the consumer has already fetched to a batch, up to the batch size.

        Why: one poll returns only the records of the fetch responses that have arrived, often
        a fraction of ``max_records`` under a backlog, and every batch pays a fixed cost and
        pushes each user it touches once (the Feast push is most of a batch's time, and it
        grows with users, not events). Topping up with polls that do not wait
        (``timeout_ms=0``) adds no latency: on a quiet stream the first top-up comes back empty
        and the batch goes as it is. A failed top-up poll ends the top-up; what was read is
        processed and committed as usual. If a top-up poll rebalances the group, records read
        before it from a partition now owned elsewhere are still processed here but not
        committed (a commit covers the assigned partitions only); the new owner replays them
        from the last commit, and the writes are idempotent, as after a crash.
        """
        wanted = self.batch_size.size - sum(len(messages) for messages in records.values())
        merged: dict | None = None
        while wanted > 0:
            try:
                more = self.consumer.poll(timeout_ms=0, max_records=wanted)
            except KafkaError:
                break
            if not more:
                break
            if merged is None:
                merged = {tp: list(messages) for tp, messages in records.items()}
            for tp, messages in more.items():
                merged.setdefault(tp, []).extend(messages)
                wanted -= len(messages)
        return records if merged is None else merged

    def _connect(self, stop: threading.Event) -> bool:
        attempt = 0
        while not stop.is_set():
            try:
                self.consumer = make_consumer(self.settings, self.group_id, self.topic,
                                              _Rebuild(self))
                self.producer = make_dlq_producer(self.settings)
                log.info("stream.connected", bootstrap=self.settings.bootstrap_servers,
                         group=self.group_id, topic=self.topic, attempts=attempt + 1)
                return True
            except KafkaError as error:
                attempt += 1
                self._close_clients()
                self._wait_retry(stop, attempt, "connect", error)
        return False

    def _wait_retry(self, stop: threading.Event, attempt: int, during: str,
                    error: object) -> None:
        self.metrics.broker_retries.inc()
        wait_retry(stop, self.settings, attempt, during, error)

    def _close_clients(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False, timeout_ms=5000)  # sends LeaveGroup
            except Exception as error:  # closing must not hide the reason we are closing
                log.warning("stream.consumer_close_failed", error=str(error))
            self.consumer = None
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception as error:
                log.warning("stream.producer_close_failed", error=str(error))
            self.producer = None

    def _close(self) -> None:
        self._close_clients()
        log.info("stream.stopped", applied=self.totals.applied, duplicates=self.totals.duplicates,
                 dlq=self.totals.dlq)

    # --- state -----------------------------------------------------------------------------
    def rebuild_state(self) -> None:
        """Reload the window state from the offline store (the source of truth).

        The days the windows can still see are read in full, the older ones as a summary of
        the rows the state keeps from them (`dojo.features.state_rebuild`): the same state as
        a full read, for every user, in a time that no longer grows with the history.
        """
        started = time.perf_counter()
        read = read_state_events(self.settings.offline_dir,
                                 self.settings.stream_allowed_lateness_s)
        self.state.load(read.events)
        log.info("stream.state_rebuilt", users=len(self.state.users),
                 buffered_events=self.state.buffered_events,
                 horizon=None if read.horizon is None else read.horizon.isoformat(),
                 recent_rows=read.recent_rows, summary_rows=read.summary_rows,
                 summarised_days=len(read.folded_days),
                 seconds=round(time.perf_counter() - started, 3))
        self._assigned_at = time.monotonic()

    # --- one batch -------------------------------------------------------------------------
    def _handle(self, records: dict, stop: threading.Event) -> None:
        started = time.perf_counter()
        try:
            outcome = self._process(records)
        except Exception as error:
            self._recover(error, stop)
            return
        self._commit(stop)
        self._failures = 0
        elapsed = time.perf_counter() - started
        self.metrics.batch_duration.observe(elapsed)
        events = outcome.applied + outcome.duplicates + outcome.dlq
        self.metrics.batch_events.observe(events)
        self.metrics.batch_limit.set(self.batch_size.observe(events, elapsed))
        self._update_lag()
        self.totals.applied += outcome.applied
        self.totals.duplicates += outcome.duplicates
        self.totals.dlq += outcome.dlq

    def _process(self, records: dict) -> BatchOutcome:
        outcome = BatchOutcome()
        applied, rejects, touched = [], [], set()
        for messages in records.values():
            for record in messages:
                try:
                    txn = validate_transaction(record.value if record.value is not None else b"")
                except InvalidEvent as error:
                    rejects.append((error.reason, record))
                    continue
                except Exception as error:  # a validator bug must not stop the stream
                    rejects.append((f"unparseable: {type(error).__name__}", record))
                    continue
                result = self.state.apply(txn)
                if result is Outcome.APPLIED:
                    applied.append(txn)
                    touched.add(txn.user_id)
                elif result is Outcome.DUPLICATE:
                    # Re-push the user anyway: if a crash came between the offline append and
                    # the online push, the replay is what finally brings the online row up to
                    # date (pushing the newest row again is harmless).
                    outcome.duplicates += 1
                    touched.add(txn.user_id)
                else:
                    behind = self.state.lateness_s(txn)
                    rejects.append((
                        f"late event: {behind:.0f}s behind the user's newest event "
                        f"(allowed {self.settings.stream_allowed_lateness_s:.0f}s)", record,
                    ))
        self._send_dlq(rejects)
        try:
            append_transactions(self.settings, applied)
        except Exception:
            self.metrics.write_failures.labels(sink="offline").inc()
            raise
        self._push(touched)
        outcome.applied, outcome.dlq = len(applied), len(rejects)
        self.metrics.events.labels(outcome="applied").inc(outcome.applied)
        self.metrics.events.labels(outcome="duplicate").inc(outcome.duplicates)
        self.metrics.events.labels(outcome="dlq").inc(outcome.dlq)
        for reason, _record in rejects:
            self.metrics.dlq.labels(reason=reason_label(reason)).inc()
        self._count_out_of_range(applied)
        return outcome

    def _count_out_of_range(self, applied: list) -> None:
        """Count (and log one example per batch of) valid events with an implausible amount.

        Why here and not in the contract: an amount of 4,000 is a valid payment, so the event
        is applied; it is the share of such amounts that says a producer changed its unit.
        """
        limit = self.settings.stream_amount_max
        high = [txn for txn in applied if txn.amount > limit]
        if not high:
            return
        self.metrics.amount_out_of_range.inc(len(high))
        first = high[0]
        log.warning("stream.amount_out_of_range", count=len(high), of=len(applied),
                    limit=limit, amount=first.amount, transaction_id=first.transaction_id,
                    merchant_id=first.merchant_id, device_id=first.device_id)

    def _send_dlq(self, rejects: list) -> None:
        if not rejects:
            return
        futures = [
            self.producer.send(DLQ_TOPIC, value=record.value or b"", key=record.key,
                               headers=dlq_headers(reason, record))
            for reason, record in rejects
        ]
        try:
            self.producer.flush(timeout=10)
            for future in futures:
                future.get(timeout=1)
        except Exception:
            self.metrics.write_failures.labels(sink="dlq").inc()
            raise

    def _push(self, users: set[str]) -> None:
        if not users:
            return
        rows = self.state.latest_rows(users)
        rows[CREATED_COLUMN] = pd.Timestamp(datetime.now(UTC))
        try:
            self._store.push(USER_PUSH_SOURCE, rows, to=PushMode.ONLINE)
        except Exception:
            self.metrics.write_failures.labels(sink="online").inc()
            raise
        self.metrics.pushed_rows.inc(len(rows))
        self.metrics.mark_pushed(rows[TIMESTAMP_COLUMN].max().timestamp())

    def _recover(self, error: Exception, stop: threading.Event) -> None:
        """After a failed write: drop the batch and rejoin as a fresh member.

        A new consumer starts from the committed offsets by definition, and its assignment
        rebuilds the window state from the offline store, so whatever part of the batch was
        written is replayed and deduplicated. (Seeking in place would need the broker to
        answer `committed()`, which is often the very thing that just failed.)
        """
        self._failures += 1
        log.error("stream.batch_failed", error=f"{type(error).__name__}: {error}",
                  consecutive_failures=self._failures)
        self._close_clients()
        stop.wait(backoff_s(self._failures, self.settings.stream_retry_max_s))
        self._connect(stop)

    def _commit(self, stop: threading.Event) -> None:
        """Commit the positions after this batch; retry while the broker is away."""
        attempt = 0
        while True:
            try:
                self.consumer.commit(timeout_ms=5000)
                return
            except CommitFailedError as error:
                # The group rebalanced: the partitions' new owner replays from the last
                # commit and the replay is idempotent, so there is nothing to retry.
                log.warning("stream.commit_skipped_rebalance", error=str(error))
                return
            except KafkaError as error:
                attempt += 1
                if stop.is_set() and attempt > 3:
                    log.error("stream.commit_abandoned", attempts=attempt, error=str(error))
                    return
                self._wait_retry(stop, attempt, "commit", error)

    def _update_lag(self) -> None:
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            try:
                position = self.consumer.position(tp, timeout_ms=100)
            except KafkaError:
                continue
            if high is not None and position is not None:
                self.metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(0, high - position)
                )

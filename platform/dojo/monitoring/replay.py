"""Replay a cohort of customers through the live path at event time: stream, then score.

Why a replay and not `dojo generate stream`: the drift monitor compares live traffic with the
champion's training snapshot, and the per-user window features only mean the same thing on
both sides if the traffic has the history's timing. Events sent *now* to the history's
customers do not: their windows are empty (their last purchase was in the history, months ago)
or far too full (a lab sends hundreds of events a minute to customers who buy about once a
week), and ordinary traffic then looks drifted on most window features. Measured on the local
stack: drift share 0.47 for a plain `generate stream`, against 0.18 for this replay.

What a replay does, the way a team backtests a monitor on a held-out period:
- a fresh *cohort* of customers (their ids under their own prefix, so no other stream has
  touched them; merchants are shared, as in life) gets a past: ``warm_up_days`` of history at
  the history's density, sent to `transactions` with their own event times, so the stream
  processor builds their windows exactly as the training join saw them;
- then the ``score_days`` to score, in batches: each batch goes to `transactions`, the replay
  waits until the stream processor has caught up (its consumer group's lag is zero), then
  every transaction of the batch is scored by the model server's `/predict` (as the card
  network's authorisation call would), and the batch's labels follow on `labels`.
Drift knobs apply to the scored days only: the customers' past stays normal.

The dates are in December 2024, before the labs' three weeks of January 2025, so a training
window never contains a cohort; each cohort's events go to the offline store like any event.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dojo.contracts import LABELS_TOPIC, TRANSACTIONS_TOPIC
from dojo.settings import Settings
from dojo.synthetic.drift import DriftConfig

if TYPE_CHECKING:
    import pandas as pd
    from kafka import KafkaProducer

# The labs' history: 24,000 rows over 21 days; a cohort buys at the same rate.
ROWS_PER_DAY = 24_000 // 21
COHORT_START = date(2024, 12, 1)
# Ids a cohort prefix applies to: the customer's own. Merchants are shared with everyone, so
# their reputation in the online store applies to the cohort as to anyone.
COHORT_ID_COLUMNS: tuple[str, ...] = ("transaction_id", "user_id", "card_id", "device_id")
# Generous: on two busy cores the in-memory broker can take seconds to acknowledge a batch.
FLUSH_TIMEOUT_S = 120.0
_NOT_SENT = ("is_fraud", "fraud_pattern", "label_ts", "event_date")


class ReplayError(RuntimeError):
    """A dependency of the replay did not answer; the message names it and what to do."""


@dataclass(frozen=True)
class ReplayPlan:
    """Everything that decides a replay's events (the same plan gives the same events)."""

    cohort: str
    warm_up_days: int = 21
    score_days: int = 2
    rows_per_day: int = ROWS_PER_DAY
    seed: int = 7
    start: date = COHORT_START
    users: int = 10_000
    merchants: int = 2_000
    world_seed: int = 0
    fraud_rate: float = 0.015
    drift: DriftConfig = field(default_factory=DriftConfig)

    @property
    def first_scored_day(self) -> date:
        return self.start + timedelta(days=self.warm_up_days)


@dataclass
class ReplayStats:
    cohort: str
    warm_up_sent: int = 0
    scored_sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    degraded: int = 0
    labels_sent: int = 0
    stream_wait_s: float = 0.0
    seconds: float = 0.0


def new_cohort() -> str:
    """A fresh id prefix: every replay gets customers nobody has seen."""
    return f"r{secrets.token_hex(3)}-"


def cohort_frames(plan: ReplayPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(past, scored): the cohort's warm-up days and the days to score, sorted by event time."""
    from dojo.synthetic.generator import generate_history

    common: dict[str, Any] = {"users": plan.users, "merchants": plan.merchants,
                              "world_seed": plan.world_seed, "fraud_rate": plan.fraud_rate}
    past = generate_history(rows=max(plan.rows_per_day * plan.warm_up_days, 1),
                            days=max(plan.warm_up_days, 1), seed=plan.seed,
                            start_date=plan.start, **common)
    if plan.warm_up_days == 0:
        past = past.iloc[:0]
    scored = generate_history(rows=plan.rows_per_day * plan.score_days, days=plan.score_days,
                              seed=plan.seed + 1, start_date=plan.first_scored_day,
                              drift=plan.drift, **common)
    for frame in (past, scored):
        for column in COHORT_ID_COLUMNS:
            frame[column] = plan.cohort + frame[column].astype(str)
    return past.reset_index(drop=True), scored.reset_index(drop=True)


def event_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The events as the producer and `/predict` take them: contract fields, ISO timestamps."""
    records = frame.drop(columns=[c for c in _NOT_SENT if c in frame.columns]).to_dict("records")
    for record in records:
        record["ts"] = record["ts"].isoformat()
    return records


class Replayer:
    """Sends a plan's events, waits for the stream processor, scores, sends the labels."""

    def __init__(self, settings: Settings, *, batch: int = 100, workers: int = 4,
                 catch_up_s: float = 120.0,
                 on_progress: Callable[[str, int, int], None] | None = None) -> None:
        self.settings = settings
        self.batch = batch
        self.workers = workers
        self.catch_up_s = catch_up_s
        self.on_progress = on_progress or (lambda phase, done, total: None)

    def run(self, plan: ReplayPlan, *, score: bool = True) -> ReplayStats:
        import httpx
        from kafka.errors import KafkaError

        from dojo.synthetic.producer import BrokerUnavailable, connect_producer

        started = time.monotonic()
        past, scored = cohort_frames(plan)
        stats = ReplayStats(plan.cohort)
        try:
            producer = connect_producer(self.settings.bootstrap_servers,
                                        options=self.settings.kafka_producer_kwargs())
        except BrokerUnavailable as error:
            raise ReplayError(f"{error}; `dojo up` starts the broker") from None
        try:
            records = event_records(past)
            for i in range(0, len(records), 2_000):
                self._send(producer, records[i:i + 2_000])
                producer.flush(timeout=FLUSH_TIMEOUT_S)
                stats.warm_up_sent += len(records[i:i + 2_000])
                self.on_progress("past", stats.warm_up_sent, len(records))
            stats.stream_wait_s += self._caught_up(producer)
            to_score = event_records(scored)
            labels = scored[["transaction_id", "is_fraud"]].to_dict("records")
            with httpx.Client(timeout=10) as client, ThreadPoolExecutor(self.workers) as pool:
                for i in range(0, len(to_score), self.batch):
                    chunk = to_score[i:i + self.batch]
                    self._send(producer, chunk)
                    stats.scored_sent += len(chunk)
                    stats.stream_wait_s += self._caught_up(producer)
                    if score:
                        for status, degraded in pool.map(
                                lambda event: self._score(client, event), chunk):
                            stats.statuses[status] += 1
                            stats.degraded += degraded
                    self._send_labels(producer, labels[i:i + self.batch])
                    stats.labels_sent += len(chunk)
                    self.on_progress("scored", stats.scored_sent, len(to_score))
            producer.flush(timeout=FLUSH_TIMEOUT_S)
        except KafkaError as error:
            raise ReplayError(f"Kafka at {self.settings.bootstrap_servers} did not take the "
                              f"events ({type(error).__name__}: {error}); see `dojo status` "
                              "and `dojo logs broker`") from None
        finally:
            with contextlib.suppress(KafkaError):  # reported above, or nothing left to send
                producer.close(timeout=5)
        stats.seconds = time.monotonic() - started
        return stats

    # ------------------------------------------------------------------ steps
    @staticmethod
    def _send(producer: KafkaProducer, records: list[dict[str, Any]]) -> None:
        import json

        for record in records:
            producer.send(TRANSACTIONS_TOPIC, key=str(record["user_id"]).encode(),
                          value=json.dumps(record, separators=(",", ":")).encode())

    @staticmethod
    def _send_labels(producer: KafkaProducer, labels: list[dict[str, Any]]) -> None:
        import json

        now = datetime.now(UTC).isoformat()
        for label in labels:
            body = {"transaction_id": label["transaction_id"],
                    "is_fraud": bool(label["is_fraud"]), "label_ts": now}
            producer.send(LABELS_TOPIC, key=str(label["transaction_id"]).encode(),
                          value=json.dumps(body).encode())

    def _caught_up(self, producer: KafkaProducer) -> float:
        """Wait until the stream processor's group has read everything sent; seconds waited."""
        from dojo.ingestion.kafka_inspect import group_lag
        from dojo.runtime.waiting import wait_until

        producer.flush(timeout=FLUSH_TIMEOUT_S)
        started = time.monotonic()
        group = self.settings.stream_group_id

        def lag() -> int | None:
            partitions = group_lag(self.settings, group)  # never committed: lag = end offset
            return sum(p.lag for p in partitions) if partitions else None

        result = wait_until(lag, self.catch_up_s, done=lambda value: value == 0,
                            first_pause_s=0.05, max_pause_s=0.5)
        if not result.ok:
            raise ReplayError(
                f"the stream processor (consumer group {group}) did not catch up within "
                f"{self.catch_up_s:g} s (lag: {result.value}); see `dojo status` and "
                "`dojo logs stream`")
        return time.monotonic() - started

    def _score(self, client: Any, event: dict[str, Any]) -> tuple[int, bool]:
        import httpx

        url = f"http://{self.settings.host}:{self.settings.serving_port}/predict"
        try:
            response = client.post(url, json=event)
        except httpx.HTTPError as error:
            raise ReplayError(f"the model server at {url} did not answer ({error}); see "
                              "`dojo status` and `dojo logs model-server`") from None
        degraded = response.status_code == 200 and bool(response.json().get("degraded"))
        return response.status_code, degraded

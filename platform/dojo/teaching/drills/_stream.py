"""What the streaming drills share: events to send, the processor's process, and two
observations of the pipeline (consumer-group lag, and a canary through to the online store).

Why a canary: the freshness metric says how old the newest pushed row is, which grows on a
quiet stream as much as on a broken one. Sending one event stamped "now" and waiting for it in
the online store tests the whole path (broker, consumer, transform, push) and passes only when
that path works. The canary user (`u-canary`) is a real row in the offline store afterwards,
like the synthetic probes real platforms send.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import yaml

from dojo.contracts import TRANSACTIONS_TOPIC
from dojo.features import spec
from dojo.runtime import supervisor
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings
from dojo.teaching.drills.base import Check, DrillContext

STREAM = "stream"
CANARY_USER = "u-canary"
# A healthy processor on a loaded laptop applies an event within a few seconds (poll timeout
# 0.5 s, a batch well under 1 s); a joining one needs ~3 s more (lab 17).
PIPELINE_DEADLINE_S = 30.0


def drill_event(user: str, txn_id: str, amount: float, ts: datetime | None = None) -> dict:
    """One valid transaction (the fields `dojo.contracts.Transaction` requires)."""
    return {
        "transaction_id": txn_id, "ts": (ts or datetime.now(UTC)).isoformat(),
        "user_id": user, "card_id": f"c-{user}", "merchant_id": "m-drill",
        "merchant_category": "grocery", "amount": amount, "currency": "EUR", "country": "DE",
        "device_id": f"d-{user}", "channel": "pos",
    }


def produce(settings: Settings, records: list[tuple[str, bytes]],
            topic: str = TRANSACTIONS_TOPIC) -> None:
    """Send (key, value) pairs and wait until the broker has them all."""
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", client_id="dojo-drill",
                             **settings.kafka_producer_kwargs())
    try:
        for key, value in records:
            producer.send(topic, key=key.encode(), value=value)
        producer.flush(timeout=15)
    finally:
        producer.close(timeout=5)


def produce_events(settings: Settings, count: int, prefix: str) -> None:
    """``count`` valid events for a handful of drill users (never the generator's users)."""
    run = uuid.uuid4().hex[:8]
    records = []
    for number in range(count):
        user = f"u-drill-{number % 5}"
        event = drill_event(user, f"{prefix}-{run}-{number}", 10.0 + number)
        records.append((user, json.dumps(event).encode()))
    produce(settings, records)


def stream_pid(settings: Settings) -> int | None:
    """The processor's pid as the supervisor sees it (None when not running)."""
    info = supervisor.process_info(settings).get(STREAM)
    if not info or info["statename"] not in {"RUNNING", "STARTING"}:
        return None
    return int(info["pid"]) or None


def lag_check(settings: Settings) -> Check:
    """Is the stream processor's consumer group caught up? Measured from the broker."""
    from dojo.ingestion.kafka_inspect import group_lag

    try:
        rows = group_lag(settings, settings.stream_group_id)
    except Exception as error:  # the broker itself is away: report, do not raise
        return Check(False, f"cannot read the group's offsets: {type(error).__name__}: {error}")
    behind = {row.partition: row.lag for row in rows if row.lag}
    if behind:
        return Check(False, f"group {settings.stream_group_id} is {sum(behind.values())} "
                            f"messages behind on {TRANSACTIONS_TOPIC} (by partition: {behind})")
    return Check(True, f"group {settings.stream_group_id} has consumed every message "
                       f"({sum(row.end for row in rows)} in {len(rows)} partitions)")


def wait_for(probe: Callable[[], Check], deadline_s: float, *,
             give_up: Callable[[], Check | None] = lambda: None) -> Check:
    """Poll ``probe`` until it passes, ``give_up`` returns a failure, or the deadline passes."""
    stopped: list[Check] = []

    def stop(_: Check) -> bool:
        reason = give_up()
        if reason is not None:
            stopped.append(reason)
        return reason is not None

    result = wait_until(probe, deadline_s, done=lambda check: check.ok, stop=stop,
                        first_pause_s=0.25).value
    return stopped[0] if stopped else result


def processor_down(ctx: DrillContext) -> Check | None:
    """A failed Check when the processor's health probe fails (so waiting is pointless).

    The HTTP probe itself, not `DrillContext.health`'s port test first: a hung process keeps
    its listening socket, and once the kernel's accept backlog is full a port test says
    "nothing listens", which would misdirect the learner.
    """
    from dojo.runtime.health import check

    health = check(STREAM, ctx.settings)
    return None if health.ok else Check(False, f"the stream processor does not answer its "
                                               f"health check ({health.detail})")


def caught_up(ctx: DrillContext, deadline_s: float = PIPELINE_DEADLINE_S) -> Check:
    """Healthy processor and zero lag, waiting while a healthy processor catches up."""
    down = processor_down(ctx)
    if down is not None:
        lag = lag_check(ctx.settings)
        return down if lag.ok else Check(False, f"{lag.detail}; {down.detail}")
    return wait_for(lambda: lag_check(ctx.settings), deadline_s,
                    give_up=lambda: processor_down(ctx))


def _online_table(settings: Settings) -> tuple[str, str]:
    """(SQLite path, table) of the user features in the online store, from the Feast YAML."""
    config = yaml.safe_load((settings.feature_repo / "feature_store.yaml").read_text())
    path = str(config["online_store"]["path"]).replace("${DOJO_HOME}", str(settings.home))
    return path, f"{config['project']}_{spec.USER_FEATURE_VIEW}"


def newest_online_epoch_s(settings: Settings) -> int | None:
    """Event time (epoch seconds, as Feast's SQLite store keeps it) of the newest user row."""
    path, table = _online_table(settings)
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            (newest,) = conn.execute(f'SELECT MAX(event_ts) FROM "{table}"').fetchone()
    except sqlite3.Error:
        return None
    return None if newest is None else int(newest)


def canary_check(ctx: DrillContext, deadline_s: float = PIPELINE_DEADLINE_S) -> Check:
    """Send one event stamped now; pass once the online store holds a row at least that new."""
    settings = ctx.settings
    if settings.online_store != "sqlite":
        return Check(False, "the canary reads Feast's SQLite online store; "
                            "set DOJO_ONLINE_STORE=sqlite for the drills")
    down = processor_down(ctx)
    if down is not None:
        return down
    sent = datetime.now(UTC)
    event = drill_event(CANARY_USER, f"canary-{uuid.uuid4().hex[:12]}", 1.0, ts=sent)
    produce(settings, [(CANARY_USER, json.dumps(event).encode())])
    started = time.monotonic()

    def arrived() -> Check:
        newest = newest_online_epoch_s(settings)
        if newest is not None and newest >= int(sent.timestamp()):
            return Check(True, f"a canary event reached the online store in "
                               f"{time.monotonic() - started:.1f} s")
        age = "no rows" if newest is None else f"newest row {int(sent.timestamp()) - newest} s old"
        return Check(False, f"a canary event sent {time.monotonic() - started:.0f} s ago is not "
                            f"in the online store ({age})")

    return wait_for(arrived, deadline_s, give_up=lambda: processor_down(ctx))


def pipeline_works(ctx: DrillContext) -> Check:
    """Caught up AND a canary gets through: what a drill requires before and after its fault.

    Lag alone can read 0 while nothing consumes (a member still rejoining after a broker
    restart owns no partitions and commits nothing); the canary proves a member owns the
    partitions and writes. Stopping a member in the middle of a join has left the local
    broker's group unable to complete later joins, so drills wait for this first.
    """
    up = caught_up(ctx)
    return up if not up.ok else canary_check(ctx)

"""Kafka -> stream processor -> Feast, end to end on a broker of our own.

One module-scoped scenario: history in the offline store (batch-built and materialized), then
live events with malformed, duplicate and too-late ones produced to `transactions`. Run A is
an uninterrupted in-process processor; run B is a subprocess killed with SIGKILL mid-stream,
restarted, then stopped with SIGTERM. Checks: accounting (produced = processed + DLQ), the DLQ
contents, online features equal to a recomputation from raw events, run B equal to run A,
point-in-time joins, and online/offline parity.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from dojo.contracts import DLQ_TOPIC, TRANSACTIONS_TOPIC
from dojo.features import spec
from dojo.features.batch import build_feature_tables, materialize
from dojo.features.store import apply_definitions, open_store
from dojo.features.stream_processor import StreamProcessor
from dojo.features.training import entity_frame, historical_features
from dojo.features.windows import compute_user_features
from dojo.ingestion import offline_store
from dojo.ingestion.dlq import SOURCE_HEADERS, reason_of
from dojo.ingestion.offline_store import read_transactions
from dojo.runtime.launch import standalone_broker
from dojo.runtime.ports import free_port
from dojo.settings import Settings, load_settings
from dojo.synthetic.generator import generate_history, generate_live
from dojo.synthetic.producer import encode_event, plan_events

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # Feast: "experimental" notices
]

USERS, MERCHANTS, LIVE, MALFORMED_FRACTION, DUPLICATES, LATE = 150, 120, 2000, 0.02, 40, 5
LATENESS_S = 600


def wait_for(check, what: str, deadline_s: float = 60.0, every_s: float = 0.1):
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Our own in-memory Tansu broker on a free port, with the two topics created."""
    topics = {TRANSACTIONS_TOPIC: 3, DLQ_TOPIC: 1}
    with standalone_broker(tmp_path_factory.mktemp("broker"), topics) as address:
        yield address


def home_with_history(path: Path, bootstrap: str) -> Settings:
    """A state dir with two days of history, batch-built and materialized."""
    settings = load_settings(home=path, kafka_bootstrap=bootstrap, stream_batch_size=200,
                             stream_poll_timeout_ms=200, stream_allowed_lateness_s=LATENESS_S)
    history = generate_history(rows=4000, users=USERS, merchants=MERCHANTS, days=2, seed=5,
                               start_date=date.today() - timedelta(days=3))
    offline_store.write_transactions(history, settings.offline_dir)
    build_feature_tables(settings)
    materialize(apply_definitions(settings))
    return settings


@pytest.fixture(scope="module")
def produced(broker: str) -> dict[str, int]:
    """Produce the live stream once; returns what was sent, by kind."""
    now = datetime.now(UTC)
    live = generate_live(LIVE, seed=9, users=USERS, merchants=MERCHANTS,
                         start=now - timedelta(minutes=30), span_s=29 * 60)
    events = plan_events(live, MALFORMED_FRACTION, seed=9)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=5)
    sent: list[tuple[bytes, bytes]] = []
    for event, ts in zip(events, live["ts"], strict=True):
        sent.append((event.key, encode_event(event, ts.to_pydatetime())))
    valid = [(k, v) for (k, v), e in zip(sent, events, strict=True) if not e.malformed]
    rng = random.Random(1)
    newest = live[[e.malformed is None for e in events]].groupby("user_id")["ts"].max()
    late = []
    for i, (user, ts) in enumerate(newest.sample(LATE, random_state=1).items()):
        body = json.loads(valid[0][1]) | {"transaction_id": f"late-{i}", "user_id": user,
                                           "ts": (ts - timedelta(hours=2)).isoformat()}
        late.append((user.encode(), json.dumps(body).encode()))
    stream = sent + rng.sample(valid, DUPLICATES) + late
    for key, value in stream:
        producer.send(TRANSACTIONS_TOPIC, key=key, value=value)
    producer.flush()
    producer.close()
    malformed = sum(1 for e in events if e.malformed)
    return {"total": len(stream), "malformed": malformed, "late": LATE,
            "duplicates": DUPLICATES, "valid": len(valid)}


@pytest.fixture(scope="module")
def run_a(broker: str, produced: dict[str, int], tmp_path_factory) -> tuple[Settings, object]:
    """An uninterrupted in-process run over the whole stream."""
    settings = home_with_history(tmp_path_factory.mktemp("home-a"), broker)
    processor = StreamProcessor(settings, group_id="run-a")
    totals = processor.run(threading.Event(), until_idle_s=3)
    return settings, totals


def online_user_features(settings: Settings, users: list[str]) -> pd.DataFrame:
    store = open_store(settings)
    rows = [{spec.USER_ENTITY_KEY: u} for u in users]
    frame = store.get_online_features(features=spec.user_feature_refs(), entity_rows=rows).to_df()
    return frame.set_index(spec.USER_ENTITY_KEY)[list(spec.USER_FEATURES)]


def recomputed(settings: Settings) -> pd.DataFrame:
    raw = read_transactions(settings.offline_dir, columns=spec.EVENT_COLUMNS)
    rows = compute_user_features(raw)
    return rows.groupby(spec.USER_ENTITY_KEY).tail(1).set_index(spec.USER_ENTITY_KEY)


def dlq_messages(broker: str) -> list:
    consumer = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False)
    tp = TopicPartition(DLQ_TOPIC, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got: list = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500).get(tp, [])
        if not batch and got:
            break
        got.extend(batch)
    consumer.close()
    return got


def test_every_event_is_processed_or_dead_lettered(run_a, produced, broker) -> None:
    _settings, totals = run_a
    assert totals.applied + totals.duplicates + totals.dlq == produced["total"]
    assert totals.duplicates == produced["duplicates"]
    assert totals.dlq == produced["malformed"] + produced["late"]
    messages = dlq_messages(broker)
    assert len(messages) == produced["malformed"] + produced["late"]
    reasons = [reason_of(m.headers) for m in messages]
    assert sum(r.startswith("late event") for r in reasons) == produced["late"]
    assert all(dict(m.headers)[SOURCE_HEADERS[0]] == TRANSACTIONS_TOPIC.encode()
               for m in messages)


def test_online_features_equal_a_recomputation_from_raw_events(run_a) -> None:
    settings, _ = run_a
    truth = recomputed(settings)
    users = sorted(truth.index)
    online = online_user_features(settings, users)
    pd.testing.assert_frame_equal(online.loc[users], truth.loc[users, list(spec.USER_FEATURES)],
                                  check_dtype=False)


def test_online_and_offline_agree_as_of_now(run_a) -> None:
    """Training/serving parity: Feast's point-in-time join at `now` returns what serving reads."""
    settings, _ = run_a
    store = open_store(settings)
    # Merchant rows online are as of the last materialization; rebuild the batch table as of
    # that instant too, so a label arriving in between is not mistaken for skew.
    merchant_view = store.get_feature_view(spec.MERCHANT_FEATURE_VIEW)
    build_feature_tables(settings, as_of=max(e for _, e in merchant_view.materialization_intervals))
    raw = read_transactions(settings.offline_dir, columns=["user_id", "merchant_id", "ts"])
    recent = raw[raw["ts"] > pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1)]
    sample = recent.drop_duplicates("user_id").head(40)
    now = pd.Timestamp.now(tz="UTC")
    request = pd.DataFrame({"user_id": sample["user_id"].to_numpy(),
                            "merchant_id": sample["merchant_id"].to_numpy(),
                            "amount": 50.0, "event_timestamp": now})
    offline = historical_features(store, request, store.get_feature_service(spec.FEATURE_SERVICE))
    rows = request.drop(columns="event_timestamp").to_dict("records")
    online = store.get_online_features(
        features=store.get_feature_service(spec.FEATURE_SERVICE), entity_rows=rows,
    ).to_df()
    columns = [*spec.USER_FEATURES, *spec.MERCHANT_FEATURES, "amount_to_user_mean_24h"]
    pd.testing.assert_frame_equal(online[columns].astype("float64"),
                                  offline[columns].astype("float64"))


def test_point_in_time_join_never_sees_the_future(run_a) -> None:
    settings, _ = run_a
    build_feature_tables(settings)
    store = open_store(settings)
    columns = [*spec.EVENT_COLUMNS, "is_fraud", "label_ts"]
    raw = read_transactions(settings.offline_dir, columns=columns)
    history_rows = raw[raw["label_ts"].notna()].sample(150, random_state=3)
    live_rows = raw[raw["label_ts"].isna()].sample(150, random_state=3)
    txns = pd.concat([history_rows, live_rows])
    entities = entity_frame(txns[["transaction_id", "user_id", "merchant_id", "amount", "ts"]])
    joined = historical_features(store, entities, store.get_feature_service(spec.FEATURE_SERVICE))
    assert len(joined) == len(entities)  # no row lost (Feast's file store would drop some)

    # Truth for each transaction: the user's state at its own instant, from raw events only.
    per_instant = compute_user_features(raw).set_index(["user_id", "event_timestamp"])
    keys = list(zip(joined["user_id"], joined["event_timestamp"], strict=True))
    truth = per_instant.loc[keys, "txn_count_24h"].to_numpy()
    bad = joined[joined["txn_count_24h"].to_numpy() != truth]
    assert bad.empty, bad[["user_id", "event_timestamp", "txn_count_24h"]].assign(
        truth=truth[joined["txn_count_24h"].to_numpy() != truth]).to_string()

    # A naive join takes each user's latest row: it counts transactions made *after* the
    # event (leakage). Feast's join does not.
    latest = per_instant.reset_index().groupby("user_id").tail(1).set_index("user_id")
    naive = latest.loc[joined["user_id"], "txn_count_24h"].to_numpy()
    assert (naive != truth).mean() > 0.2

    # Merchant reputation only counts labels that had arrived by the transaction's time.
    labels = raw.dropna(subset=["label_ts"])
    for row in joined.head(60).itertuples():
        arrived = labels[(labels["merchant_id"] == row.merchant_id)
                         & (labels["label_ts"] <= row.event_timestamp)]
        if arrived.empty:
            assert pd.isna(row.merchant_labelled_txn_count)
        else:
            assert row.merchant_labelled_txn_count == len(arrived)


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        return response.read().decode()


def sample_value(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_killed_and_restarted_processor_ends_where_an_uninterrupted_one_does(
    run_a, produced, broker, tmp_path_factory,
) -> None:
    settings_a, _ = run_a
    settings_b = home_with_history(tmp_path_factory.mktemp("home-b"), broker)
    port = free_port()
    env = {**os.environ, "DOJO_HOME": str(settings_b.home), "DOJO_KAFKA_BOOTSTRAP": broker,
           "DOJO_STREAM_GROUP_ID": "run-b", "DOJO_STREAM_BATCH_SIZE": "50",
           "DOJO_STREAM_BATCH_MAX": "50",  # fixed batches: several files before the kill
           "DOJO_STREAM_ALLOWED_LATENESS_S": str(LATENESS_S), "DOJO_STREAM_METRICS_PORT": str(port)}
    command = [sys.executable, "-m", "dojo.cli.stream"]
    stream_files = settings_b.offline_dir / "transactions"

    logs = settings_b.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "first.log").open("wb") as log:
        first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(list(stream_files.glob("*/stream-*.parquet"))) >= 4,
                 "the first batches of run B", 90, 0.02)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    done_before_kill = len(list(stream_files.glob("*/stream-*.parquet")))
    assert done_before_kill < produced["total"] / 50  # it really died mid-stream

    with (logs / "second.log").open("wb") as log:
        second = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def caught_up() -> bool:
            try:
                text = metrics_text(port)
            except OSError:
                return False
            consumed = sample_value(text, "dojo_stream_events_total")
            lag = sample_value(text, "dojo_stream_consumer_lag_messages")
            return consumed > 0 and lag == 0 and "dojo_stream_consumer_lag_messages{" in text

        wait_for(caught_up, "run B to catch up after the restart", 90, 0.2)
        second.send_signal(signal.SIGTERM)  # clean stop: finish batch, commit, leave group
        second.wait(timeout=20)
    finally:
        if second.poll() is None:
            second.kill()
    output = (logs / "second.log").read_text()
    assert second.returncode == 0, output[-2000:]
    assert "stream.stopped" in output

    users = sorted(recomputed(settings_a).index)
    pd.testing.assert_frame_equal(online_user_features(settings_b, users),
                                  online_user_features(settings_a, users))
    # Every malformed or late event is in the DLQ at least once (a replay may repeat some).
    sources = {(dict(m.headers)[SOURCE_HEADERS[1]], dict(m.headers)[SOURCE_HEADERS[2]])
               for m in dlq_messages(broker)}
    assert len(sources) == produced["malformed"] + produced["late"]


def test_chunked_point_in_time_join_gives_the_same_rows(
    run_a, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large windows are joined in chunks (the join's memory grows with the chunk);
    chunk boundaries must not change a single value."""
    from dojo.features import training

    settings, _ = run_a
    build_feature_tables(settings)
    store = open_store(settings)
    raw = read_transactions(settings.offline_dir, columns=[*spec.EVENT_COLUMNS])
    entities = entity_frame(raw.sample(300, random_state=5)[
        ["transaction_id", "user_id", "merchant_id", "amount", "ts"]])
    service = store.get_feature_service(spec.FEATURE_SERVICE)
    whole = historical_features(store, entities, service)
    monkeypatch.setattr(training, "CHUNK_ROWS", 37)
    chunked = historical_features(store, entities, service)
    pd.testing.assert_frame_equal(whole, chunked)

"""Failures mid-stream: the broker goes away, or an online write fails. Nothing is lost or
double counted, and each broker retry is logged.

How the outage is made: the broker advertises the address of a small TCP proxy, so every
client connection (bootstrap, fetch, group coordinator) goes through it. Closing the proxy
refuses new connections and cuts open ones, as a network partition or a broker restart would,
while the broker (memory-only) keeps its data and committed offsets.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from dojo.contracts import DLQ_TOPIC
from dojo.features import spec
from dojo.features.store import apply_definitions, open_store
from dojo.features.stream_processor import StreamProcessor
from dojo.features.windows import compute_user_features
from dojo.ingestion.offline_store import read_transactions
from dojo.runtime.launch import standalone_broker
from dojo.runtime.ports import free_port
from dojo.settings import load_settings
from dojo.synthetic.generator import generate_live
from dojo.synthetic.producer import encode_event, plan_events

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TOPIC, EVENTS = "transactions-outage", 600


class Proxy:
    """Forward 127.0.0.1:port to the broker; `down()` refuses and cuts, `up()` restores."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        with self.lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed: the proxy is down
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[tuple[str, Proxy]]:
    broker_port, proxy_port = free_port(), free_port()
    proxy = Proxy(proxy_port, broker_port)
    with standalone_broker(tmp_path, port=broker_port, advertised_port=proxy_port):
        proxy.up()
        try:
            address = f"127.0.0.1:{proxy_port}"
            admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=10_000)
            admin.create_topics([NewTopic(TOPIC, 2, 1), NewTopic(DLQ_TOPIC, 1, 1)])
            admin.close()
            yield address, proxy
        finally:
            proxy.down()


def wait_until(check, what: str, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_processor_rides_out_a_broker_outage(proxied_broker, tmp_path: Path, capsys) -> None:
    address, proxy = proxied_broker
    settings = load_settings(home=tmp_path / "home", kafka_bootstrap=address,
                             stream_batch_size=25, stream_poll_timeout_ms=200,
                             stream_retry_max_s=1.0)
    live = generate_live(EVENTS, seed=4, users=60, merchants=100,
                         start=datetime.now(UTC) - timedelta(minutes=10), span_s=500)
    producer = KafkaProducer(bootstrap_servers=address, acks="all")
    for event, ts in zip(plan_events(live, 0.0, seed=4), live["ts"], strict=True):
        producer.send(TOPIC, key=event.key, value=encode_event(event, ts))
    producer.flush()
    producer.close()

    processor = StreamProcessor(settings, group_id="outage", topic=TOPIC)
    stop = threading.Event()
    worker = threading.Thread(target=processor.run, args=(stop,), daemon=True)
    worker.start()
    try:
        wait_until(lambda: processor.totals.applied >= 100, "the first batches", 60)
        proxy.down()
        wait_until(lambda: processor.metrics.count("dojo_stream_broker_retries") >= 2,
                   "two logged retries while the broker is away", 30)
        proxy.up()
        wait_until(lambda: processor.totals.applied + processor.totals.duplicates >= EVENTS
                   and processor.totals.applied == EVENTS, "the rest after the outage", 90)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    captured = capsys.readouterr()  # stderr once logging is configured, stdout before that
    logged = captured.out + captured.err
    assert logged.count("stream.broker_unavailable") >= 2  # one log line per attempt

    raw = read_transactions(settings.offline_dir, columns=spec.EVENT_COLUMNS)
    assert raw["transaction_id"].nunique() == EVENTS
    truth = compute_user_features(raw).groupby("user_id").tail(1).set_index("user_id")
    users = sorted(truth.index)
    online = open_store(settings).get_online_features(
        features=spec.user_feature_refs(), entity_rows=[{"user_id": u} for u in users],
    ).to_df().set_index("user_id")
    pd.testing.assert_frame_equal(online.loc[users, list(spec.USER_FEATURES)],
                                  truth.loc[users, list(spec.USER_FEATURES)], check_dtype=False)


class FlakyStore:
    """A real feature store whose Nth push fails once (an online store hiccup)."""

    def __init__(self, store, fail_on: int) -> None:
        self.store, self.fail_on, self.calls = store, fail_on, 0

    def push(self, *args, **kwargs) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise ConnectionError("online store unavailable (injected)")
        self.store.push(*args, **kwargs)


def test_failed_online_write_is_retried_without_double_counting(
    proxied_broker, tmp_path: Path,
) -> None:
    address, _proxy = proxied_broker
    settings = load_settings(home=tmp_path / "home", kafka_bootstrap=address,
                             stream_batch_size=50, stream_poll_timeout_ms=200,
                             stream_retry_max_s=0.5)
    live = generate_live(300, seed=6, users=40, merchants=100,
                         start=datetime.now(UTC) - timedelta(minutes=5), span_s=250)
    producer = KafkaProducer(bootstrap_servers=address, acks="all")
    for event, ts in zip(plan_events(live, 0.0, seed=6), live["ts"], strict=True):
        producer.send(TOPIC, key=event.key, value=encode_event(event, ts))
    producer.flush()
    producer.close()

    store = FlakyStore(apply_definitions(settings), fail_on=2)
    processor = StreamProcessor(settings, store=store, group_id="flaky", topic=TOPIC)
    totals = processor.run(threading.Event(), until_idle_s=3)

    assert processor.metrics.count("dojo_stream_write_failures", sink="online") == 1
    raw = read_transactions(settings.offline_dir, columns=spec.EVENT_COLUMNS)
    assert len(raw) == raw["transaction_id"].nunique() == 300  # replays were not re-written
    assert totals.applied + totals.duplicates >= 300
    truth = compute_user_features(raw).groupby("user_id").tail(1).set_index("user_id")
    users = sorted(truth.index)
    online = store.store.get_online_features(
        features=spec.user_feature_refs(), entity_rows=[{"user_id": u} for u in users],
    ).to_df().set_index("user_id")
    pd.testing.assert_frame_equal(online.loc[users, list(spec.USER_FEATURES)],
                                  truth.loc[users, list(spec.USER_FEATURES)], check_dtype=False)

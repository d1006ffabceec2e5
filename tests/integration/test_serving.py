"""The model server against real components: MLflow's registry, Feast, the Kafka broker.

Each test starts `dojo serve` as a child process on a free port, registers tiny models (real
skops-logged pipelines, tests/serving_support.py) under a model name of its own, and drives
the server over HTTP. What each one breaks is real too: the registry behind a TCP proxy
that is closed, a Redis online store that is shut down, a broker process that is killed.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from mlflow import MlflowClient
from serving_processes import ServerProcess, wait_for
from test_stream_outage import Proxy

from dojo.contracts import PREDICTIONS_TOPIC
from dojo.runtime.broker_binary import broker_binary
from dojo.runtime.launch import broker_command
from dojo.runtime.ports import free_port, port_answers
from dojo.settings import Settings
from serving_support import push_user_features, register_versions, transaction

pytestmark = [pytest.mark.filterwarnings("ignore::RuntimeWarning")]

FAST = {"DOJO_SERVING_ALIAS_POLL_S": "0.2", "DOJO_SERVING_REGISTRY_RETRY_S": "0.2"}


@pytest.fixture
def model(healthy_stack: Settings) -> tuple[str, MlflowClient]:
    """v1 (fraud when amount > 500) as champion, v2 (the opposite) as challenger."""
    name = f"fraud-serving-{uuid.uuid4().hex[:6]}"
    uri = healthy_stack.tracking_uri
    assert register_versions(uri, name) == ["1", "2"]
    client = MlflowClient(uri, registry_uri=uri)
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", "2")
    return name, client


def predictions_end(bootstrap: str) -> dict[TopicPartition, int]:
    """Where `predictions` ends now: the shared stack's topic holds every earlier test's
    traffic, so a test reads only what came after this point."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(PREDICTIONS_TOPIC, p)
                      for p in consumer.partitions_for_topic(PREDICTIONS_TOPIC) or ()]
        return consumer.end_offsets(partitions)
    finally:
        consumer.close()


def predictions_on_topic(bootstrap: str, request_ids: set[str],
                         since: dict[TopicPartition, int]) -> list[dict]:
    """The `predictions` records of these requests, read from the offsets in ``since``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=2000)
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        return [record for message in consumer
                if (record := json.loads(message.value))["request_id"] in request_ids]
    finally:
        consumer.close()


def test_champion_scores_with_online_features_and_shadow_never_answers(
        healthy_stack: Settings, model: tuple[str, MlflowClient], tmp_path: Path) -> None:
    name, _ = model
    push_user_features(healthy_stack, "u_serving_known", age_s=90)
    since = predictions_end(healthy_stack.bootstrap_servers)
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, DOJO_SERVING_ROUTING="shadow",
                       **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")
        known = httpx.post(f"{server.url}/predict", timeout=10,
                           json=transaction(1, amount=900.0, user="u_serving_known")).json()
        assert (known["model_version"], known["variant"], known["decision"]) == (
            "1", "champion", "fraud")
        assert known["degraded"] is False and 80 < known["feature_age_seconds"] < 900
        new = httpx.post(f"{server.url}/predict", timeout=10,
                         json=transaction(2, amount=900.0, user="u_serving_new")).json()
        assert new["degraded_reason"] == "no_user_features" and new["decision"] == "fraud"
        loaded = httpx.get(f"{server.url}/model", timeout=5).json()
        assert loaded["aliases"]["champion"]["version"] == "1"
        assert loaded["aliases"]["challenger"]["version"] == "2"
        ids = {known["request_id"], new["request_id"]}
        records: list[dict] = []

        def logged() -> bool:
            records[:] = predictions_on_topic(healthy_stack.bootstrap_servers, ids, since)
            return len(records) == 4
        wait_for(logged, 30, "champion and shadow records on `predictions`")
    by_variant = {(r["request_id"], r["variant"]): r for r in records}
    champion = by_variant[(known["request_id"], "champion")]
    shadow = by_variant[(known["request_id"], "shadow")]
    assert champion["model_version"] == "1" and champion["decision"] == "fraud"
    assert shadow["model_version"] == "2" and shadow["decision"] == "legit"  # never returned
    assert champion["features"]["txn_count_24h"] == 1 and champion["score"] == known["score"]


def test_alias_move_under_load_swaps_version_with_zero_failures(
        healthy_stack: Settings, model: tuple[str, MlflowClient], tmp_path: Path) -> None:
    name, client = model
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")
        stop = threading.Event()
        seen: list[list[tuple[str, str]]] = [[] for _ in range(4)]
        failures: list[str] = []

        def hammer(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                i = 0
                while not stop.is_set():
                    i += 1
                    # users no other test streamed: the decision is the amount's alone
                    response = http.post("/predict", json=transaction(
                        i, amount=900.0, user=f"u_alias_{name}_{i % 50}"))
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                        continue
                    body = response.json()
                    seen[worker].append((body["model_version"], body["decision"]))

        threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: all(len(s) > 20 for s in seen), 30, "requests on v1")
            client.set_registered_model_alias(name, "champion", "2")
            wait_for(lambda: all(s[-1][0] == "2" for s in seen if s), 30, "responses from v2")
            counts = [len(s) for s in seen]
            wait_for(lambda: all(len(s) > c + 20 for s, c in zip(seen, counts, strict=True)),
                     30, "more requests on v2")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    assert failures == []
    for responses in seen:
        versions = [version for version, _ in responses]
        switch = versions.index("2")
        assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}  # one swap
        # each answer is the model it names: v1 flags 900 as fraud, v2 (flipped) does not
        assert {pair for pair in responses} == {("1", "fraud"), ("2", "legit")}


def test_registry_down_at_start_then_ready(
        healthy_stack: Settings, model: tuple[str, MlflowClient], tmp_path: Path) -> None:
    name, _ = model
    proxy = Proxy(free_port(), healthy_stack.mlflow_port)  # closed: the registry is "down"
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name,
                       DOJO_MLFLOW_TRACKING_URI=f"http://127.0.0.1:{proxy.port}",
                       **FAST) as server:
        def reasons() -> list[str]:
            response = httpx.get(f"{server.url}/ready", timeout=5)
            assert response.status_code == 503
            return response.json()["reasons"]
        wait_for(lambda: any("unreachable" in r for r in reasons()), 30, "the reason")
        # generous timeouts: the point is the answer (503, then 200), not its latency on a
        # loaded machine, and the server loads the model in the same process meanwhile
        assert httpx.post(f"{server.url}/predict", json=transaction(1),
                          timeout=30).status_code == 503
        proxy.up()
        try:
            wait_for(server.ready, 60, "/ready 200 once the registry answers")
            response = httpx.post(f"{server.url}/predict", json=transaction(1), timeout=30)
            assert response.status_code == 200 and response.json()["model_version"] == "1"
        finally:
            proxy.down()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_answers("127.0.0.1", port), 20, "redis-server")
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_online_store_down_means_degraded_and_not_ready(
        healthy_stack: Settings, model: tuple[str, MlflowClient], tmp_path: Path,
        redis_server: tuple[str, subprocess.Popen[bytes]]) -> None:
    name, _ = model
    redis_url, redis = redis_server
    settings = healthy_stack.model_copy(update={
        "home": tmp_path / "home", "online_store": "redis", "redis_url": redis_url})
    push_user_features(settings, "u_serving_redis", age_s=30)
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, DOJO_HOME=str(settings.home),
                       DOJO_ONLINE_STORE="redis", DOJO_REDIS_URL=redis_url, **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")
        body = transaction(1, amount=900.0, user="u_serving_redis")
        assert httpx.post(f"{server.url}/predict", json=body, timeout=10).json()[
            "degraded"] is False
        redis.kill()
        redis.wait(timeout=10)
        response = httpx.post(f"{server.url}/predict", json=body, timeout=30)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["degraded"] is True and answer["degraded_reason"] == \
            "online_store_unavailable"
        assert answer["decision"] == "fraud"  # scored from the request and the defaults
        wait_for(lambda: not server.ready(), 30, "/ready 503")
        ready = httpx.get(f"{server.url}/ready", timeout=30).json()
        assert any("online store (redis)" in reason for reason in ready["reasons"])
        assert server.metric('dojo_serving_degraded_responses_total{reason="online_store_'
                             'unavailable"}') >= 1


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A broker of this test's own, so killing it leaves the session stack alone."""
    port = free_port()
    proc = subprocess.Popen(broker_command(broker_binary(tmp_path), "127.0.0.1", port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_answers("127.0.0.1", port), 20, "broker")
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=10_000)
        admin.create_topics([NewTopic(PREDICTIONS_TOPIC, 1, 1)])
        admin.close()
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_broker_killed_under_load_loses_no_response_and_counts_losses(
        healthy_stack: Settings, model: tuple[str, MlflowClient], tmp_path: Path,
        own_broker: tuple[str, subprocess.Popen[bytes]]) -> None:
    name, _ = model
    bootstrap, broker = own_broker
    with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, DOJO_KAFKA_BOOTSTRAP=bootstrap,
                       DOJO_SERVING_PREDICTION_LOG_BUFFER="50", **FAST) as server:
        wait_for(server.ready, 60, "/ready 200")

        def post(i: int) -> int:
            with httpx.Client(timeout=30) as http:
                return http.post(f"{server.url}/predict", json=transaction(i)).status_code

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(post, range(100))) == [200] * 100
        wait_for(lambda: server.metric("dojo_serving_prediction_log_sent_total") == 100, 30,
                 "100 predictions acknowledged by the broker")
        broker.kill()
        broker.wait(timeout=10)
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(post, range(100, 400)))
        assert codes == [200] * 300  # no response lost while the log cannot be written

        def accounted() -> bool:  # every prediction is acknowledged or counted as lost
            sent = server.metric("dojo_serving_prediction_log_sent_total")
            lost = server.metric("dojo_serving_prediction_log_dropped_total")
            return sent + lost == 400
        wait_for(accounted, 60, "every prediction acknowledged or counted lost")
        assert server.metric("dojo_serving_prediction_log_sent_total") == 100
        assert server.metric("dojo_serving_prediction_log_dropped_total") == 300

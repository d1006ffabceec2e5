"""The prediction log's bounded buffer: overflow is dropped and counted, the rest is sent."""

from __future__ import annotations

from pathlib import Path

from dojo.runtime.waiting import wait_until
from dojo.serving.metrics import ServingMetrics
from dojo.serving.prediction_log import PredictionLog
from dojo.settings import load_settings


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, value, key))

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


def test_a_full_buffer_drops_and_counts_then_the_rest_is_sent(tmp_path: Path) -> None:
    metrics = ServingMetrics()
    producer = RecordingProducer()
    prediction_log = PredictionLog(load_settings(home=tmp_path), metrics,
                                   producer_factory=lambda _s: producer, capacity=3)
    records = [{"request_id": f"r{i}", "user_id": f"u{i}", "score": 0.1} for i in range(5)]
    assert prediction_log.offer(records) == 2  # not started yet: 3 fit, 2 do not
    assert prediction_log.lost == {"buffer_full": 2, "send_failed": 0}
    assert metrics.registry.get_sample_value("dojo_serving_prediction_log_dropped_total",
                                            {"reason": "buffer_full"}) == 2
    prediction_log.start()
    try:
        assert wait_until(lambda: len(producer.sent), 10, done=lambda n: n == 3).ok
    finally:
        prediction_log.stop(timeout_s=5)
    topics = {topic for topic, _, _ in producer.sent}
    assert topics == {"predictions"} and producer.sent[0][2] == b"u0"
    assert b'"request_id":"r0"' in producer.sent[0][1]
    assert prediction_log.pending() == 0

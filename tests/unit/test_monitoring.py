"""The drift monitor's parts that need no Evidently run: window and late-label join, restart,
bad input, PSI, and the retrain webhook's cool-down (the drift checks on generated traffic
are in tests/integration/test_monitor_drift.py: Evidently takes seconds per run)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dojo.monitoring.intake import Rejected, parse_label, parse_prediction
from dojo.monitoring.profile import build_profile, psi_band, psi_per_feature
from dojo.monitoring.retrain import COOLING_DOWN, TRIGGERED, RetrainWebhook, read_records
from dojo.monitoring.window import Window, WindowSizes
from dojo.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1]))
import monitoring_support as ms


def _window(path: Path, max_rows: int = 100_000, grace_s: float = 600.0) -> Window:
    return Window(path / "window.sqlite3", max_rows=max_rows, max_age_s=86_400,
                  label_grace_s=grace_s)


def _traffic() -> tuple[list[Any], list[Any]]:
    frame = ms.featured(1000, seed=7)
    predictions = [parse_prediction(ms.encode(r))
                   for r in ms.prediction_records(frame, None, 0.5)]
    labels = [parse_label(ms.encode(r)) for r in ms.label_records(frame)]
    return predictions, labels


# ---------------------------------------------------------------- window and late labels
def test_labels_join_late_and_survive_a_restart(tmp_path: Path) -> None:
    predictions, labels = _traffic()
    first, rest = predictions[:300], predictions[300:400]
    window = _window(tmp_path)
    # labels for the first 300 arrive before the next predictions are read
    window.apply(first, [], {("predictions", 0): 300})
    window.apply([], labels[:300], {("labels", 0): 300})
    before = window.sizes()
    assert (before.predictions, before.labels_joined) == (300, 300)
    window.close()

    reopened = _window(tmp_path)  # a restart mid-window
    assert reopened.sizes() == before
    assert reopened.offsets() == {("predictions", 0): 300, ("labels", 0): 300}
    frame = reopened.frame()
    assert frame["is_fraud"].notna().sum() == 300
    # a label read before its prediction waits, then joins when the prediction arrives
    reopened.apply([], labels[300:400], {("labels", 0): 400})
    assert reopened.sizes().labels_waiting == 100
    reopened.apply(rest, [], {("predictions", 0): 400})
    assert reopened.sizes().labels_joined == 400
    reopened.close()


def test_a_reset_empties_the_window_but_keeps_offsets_and_counters(tmp_path: Path) -> None:
    predictions, labels = _traffic()
    window = _window(tmp_path)
    window.apply(predictions[:200], labels[:150], {("predictions", 0): 200, ("labels", 0): 150},
                 {"predictions_not_json": 2})
    dropped = window.reset()
    assert dropped == WindowSizes(200, 150, 0)
    assert window.sizes() == WindowSizes(0, 0, 0)
    # what was read stays read (a reset must not bring old traffic back) ...
    assert window.offsets() == {("predictions", 0): 200, ("labels", 0): 150}
    assert window.counters() == {"predictions_not_json": 2}
    # ... and new traffic joins as before
    window.apply(predictions[200:300], labels[200:300], {("predictions", 0): 300})
    assert window.sizes() == WindowSizes(100, 100, 0)
    window.close()


def test_an_empty_window_gives_an_empty_frame(tmp_path: Path) -> None:
    # a run right after `dojo monitor reset` (or on a new stack) used to fail with a 500
    window = _window(tmp_path)
    frame = window.frame()
    assert frame.empty and "is_fraud" in frame.columns and "features" not in frame.columns
    window.close()


def test_window_is_bounded_and_gives_up_on_unknown_labels(tmp_path: Path) -> None:
    predictions, labels = _traffic()
    window = _window(tmp_path, max_rows=100, grace_s=0.0)
    window.apply(predictions[:250], labels[:50], {})
    window.apply([], [parse_label(ms.encode({"transaction_id": "never-scored",
                                              "is_fraud": False,
                                              "label_ts": datetime.now(UTC).isoformat()}))], {})
    pruned = window.prune(now=datetime.now(UTC).timestamp() + 1)
    # the 150 oldest left, with their 50 labels; only the label never scored is "unknown"
    assert pruned["over_count"] == 150 and pruned["unknown_label"] == 1
    assert window.sizes() == WindowSizes(100, 0, 0)
    assert set(window.frame()["transaction_id"]) == {p.transaction_id for p in predictions[150:250]}
    assert window.counters()["label_unknown_transaction"] == 1
    window.close()


@pytest.mark.parametrize(("raw", "reason"), [
    (b"not json", "not_json"),
    (b"[1, 2]", "not_an_object"),
    (b'{"transaction_id": "t1"}', "missing_field"),
    (json.dumps({"transaction_id": "t", "scored_at": "2025-01-01T00:00:00+00:00",
                 "features": {}, "score": 7, "model_version": "1"}).encode(), "bad_field"),
])
def test_a_bad_prediction_message_names_its_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_prediction(raw)
    assert caught.value.reason == reason


def test_a_bad_label_names_the_field() -> None:
    with pytest.raises(Rejected) as caught:
        parse_label(b'{"transaction_id": "t", "is_fraud": "maybe", "label_ts": "x"}')
    assert caught.value.reason == "bad_label" and "is_fraud" in caught.value.detail


# ---------------------------------------------------------------- drift and performance
def test_psi_bands_and_unseen_categories() -> None:

    reference = pd.DataFrame({"x": range(1000), "c": ["a", "b"] * 500})
    profile = build_profile(reference, ["x"], ["c"])
    same = psi_per_feature(profile, reference)
    moved = psi_per_feature(profile, pd.DataFrame({"x": range(500, 1500), "c": ["z"] * 1000}))
    assert psi_band(same["x"]) == "stable" and psi_band(moved["x"]) == "major"
    assert moved["c"] > 0.2


# ---------------------------------------------------------------- retrain webhook
def _alert(name: str, retrain: str = "true", status: str = "firing") -> dict[str, Any]:
    return {"status": status, "labels": {"alertname": name, "severity": "ticket",
                                         "retrain": retrain},
            "annotations": {"summary": f"{name} fired"}}


def test_the_webhook_triggers_once_per_cool_down(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, monitor_retrain_cooldown_s=3600,
                        monitor_retrain_interval_end=datetime(2025, 1, 22, tzinfo=UTC))
    runs: list[tuple[str, datetime, datetime, dict]] = []

    def trigger(run_id: str, start: datetime, end: datetime, conf: dict) -> dict:
        runs.append((run_id, start, end, conf))
        return {"dag_run_id": run_id}

    webhook = RetrainWebhook(settings, trigger=trigger)
    assert webhook.handle({"alerts": [_alert("DojoScrapeTargetDown", retrain="false")]}) is None
    assert webhook.handle({"alerts": [_alert("DojoDataDrift", status="resolved")]}) is None
    first = webhook.handle({"alerts": [_alert("DojoDataDrift")]})
    again = webhook.handle({"alerts": [_alert("DojoDataDrift"), _alert("DojoPerformanceDrop")]})
    assert first is not None and first.outcome == TRIGGERED
    assert again is not None and again.outcome == COOLING_DOWN
    assert len(runs) == 1
    _, start, end, conf = runs[0]
    assert (start, end) == (datetime(2025, 1, 21, tzinfo=UTC), datetime(2025, 1, 22, tzinfo=UTC))
    assert conf == {"force": True}
    assert [r.outcome for r in read_records(settings)] == [TRIGGERED, COOLING_DOWN]

    # after the cool-down, the next alert triggers again
    later = RetrainWebhook(settings.model_copy(update={"monitor_retrain_cooldown_s": 0}),
                           trigger=trigger)
    assert later.handle({"alerts": [_alert("DojoPerformanceDrop")]}).outcome == TRIGGERED
    assert len(runs) == 2


def test_a_triggered_run_trains_up_to_the_newest_labelled_day(tmp_path: Path) -> None:
    from dojo.ingestion.offline_store import write_transactions
    from dojo.monitoring.retrain import training_interval
    from dojo.synthetic.generator import generate_history

    settings = Settings(home=tmp_path)
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert training_interval(settings, now)[1] == datetime(2026, 11, 30, tzinfo=UTC)
    history = generate_history(rows=2000, days=5, seed=1, start_date=date(2025, 1, 1))
    unlabelled = history.assign(ts=history["ts"] + pd.Timedelta(days=30), label_ts=pd.NaT,
                                transaction_id="live-" + history["transaction_id"])
    unlabelled["event_date"] = unlabelled["ts"].dt.strftime("%Y-%m-%d")
    write_transactions(pd.concat([history, unlabelled]), settings.offline_dir)
    start, end = training_interval(settings, now)
    assert (start, end) == (datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 1, 6, tzinfo=UTC))


def test_metrics_say_unknown_until_a_run_not_zero() -> None:
    """A performance ratio of 0 or a last run in 1970 would fire alerts right after a start."""
    import math

    from dojo.monitoring.metrics import MonitorMetrics

    metrics = MonitorMetrics()
    sample = metrics.registry.get_sample_value
    assert math.isnan(sample("dojo_monitor_performance_ratio"))
    assert math.isnan(sample("dojo_monitor_drift_share"))
    assert sample("dojo_monitor_last_run_timestamp_seconds") > datetime(2026, 1, 1).timestamp()

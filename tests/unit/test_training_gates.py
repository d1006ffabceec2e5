"""Promotion gates: each failure names the gate and the numbers; every gate is evaluated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dojo.settings import Settings, load_settings
from dojo.training.evaluation import segment_metrics, threshold_at_precision
from dojo.training.gates import ChampionScore, run_gates

GOOD = {"pr_auc": 0.85, "roc_auc": 0.98, "latency_p95_ms": 4.0, "model_mb": 0.2}
SEGMENTS = [
    {"segment": "US", "recall": 0.80, "eligible": True},
    {"segment": "GB", "recall": 0.70, "eligible": True},
    {"segment": "IE", "recall": 0.0, "eligible": False},  # too few frauds to judge
]


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def _failed(result) -> set[str]:
    return {check.name for check in result.checks if not check.passed}


def test_a_good_candidate_without_champion_passes(settings: Settings) -> None:
    result = run_gates(GOOD, SEGMENTS, None, settings)
    assert result.passed, result.reasons
    assert {c.name for c in result.checks} == {"pr_auc_floor", "roc_auc_floor", "vs_champion",
                                               "latency", "size", "segment_gap"}


def test_a_weak_slow_big_unfair_model_fails_every_gate_at_once(settings: Settings) -> None:
    bad = {"pr_auc": 0.05, "roc_auc": 0.52, "latency_p95_ms": 400.0, "model_mb": 80.0}
    segments = [{"segment": "US", "recall": 0.9, "eligible": True},
                {"segment": "DE", "recall": 0.2, "eligible": True}]
    champion = ChampionScore("3", pr_auc=0.9, roc_auc=0.99, candidate_pr_auc=0.05, rows=900,
                             positives=20)
    result = run_gates(bad, segments, champion, settings)
    assert _failed(result) == {"pr_auc_floor", "roc_auc_floor", "vs_champion", "latency", "size",
                               "segment_gap"}
    text = "; ".join(result.reasons)
    assert "PR-AUC 0.050 < floor 0.400" in text
    assert "champion v3" in text and "drop 0.850" in text
    assert "between US (0.90) and DE (0.20)" in text


def test_champion_margin_allows_a_small_drop(settings: Settings) -> None:
    within = ChampionScore("2", pr_auc=0.86, roc_auc=0.99, candidate_pr_auc=0.85, rows=500,
                           positives=12)
    beyond = ChampionScore("2", pr_auc=0.90, roc_auc=0.99, candidate_pr_auc=0.85, rows=500,
                           positives=12)
    assert run_gates(GOOD, SEGMENTS, within, settings).passed
    assert _failed(run_gates(GOOD, SEGMENTS, beyond, settings)) == {"vs_champion"}


def test_champion_that_cannot_score_blocks_and_too_few_unseen_rows_skip(
    settings: Settings,
) -> None:
    broken = ChampionScore("4", error="it needs columns ['x'] this data lacks")
    assert _failed(run_gates(GOOD, SEGMENTS, broken, settings)) == {"vs_champion"}
    skipped = ChampionScore("4", skipped="only 3 frauds ... comparison skipped")
    result = run_gates(GOOD, SEGMENTS, skipped, settings)
    assert result.passed and "comparison skipped" in result.checks[2].message


def test_threshold_reaches_the_precision_target() -> None:
    y = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1], dtype=bool)
    p = np.linspace(0.05, 0.95, 10)
    threshold, recall = threshold_at_precision(y, p, 0.8)
    flagged = p >= threshold
    assert (flagged & y).sum() / flagged.sum() >= 0.8
    assert recall == pytest.approx(1.0)
    assert threshold_at_precision(np.array([1, 0], dtype=bool), np.array([0.1, 0.9]), 0.99) == (
        1.0, 0.0)


def test_segments_below_the_support_floor_are_not_eligible() -> None:
    frame = pd.DataFrame({"country": ["US"] * 6 + ["IE"] * 3,
                          "is_fraud": [1, 1, 1, 0, 0, 0, 1, 0, 0]})
    p = np.array([0.9, 0.8, 0.1, 0.2, 0.1, 0.0, 0.9, 0.1, 0.1])
    rows = {s["segment"]: s for s in segment_metrics(frame, p, 0.5, min_positives=2)}
    assert rows["US"]["eligible"] and rows["US"]["recall"] == pytest.approx(2 / 3)
    assert not rows["IE"]["eligible"]

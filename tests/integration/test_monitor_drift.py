"""The drift checks on generated traffic: the generator's drift knobs, through real window
features, a real model's scores and Evidently, are what the monitor flags; reports on disk.

In the slow tier although it starts nothing: each Evidently run takes seconds.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from dojo.monitoring import reports
from dojo.monitoring.analysis import RunResult, analyse
from dojo.monitoring.intake import parse_label, parse_prediction
from dojo.monitoring.window import Window
from dojo.settings import Settings
from dojo.synthetic.drift import DriftConfig

sys.path.insert(0, str(Path(__file__).parents[1]))
import monitoring_support as ms

KNOBS = {"none": None, "covariate": DriftConfig(amount_shift=3.0),
         "concept": DriftConfig(concept_drift=True), "categories": DriftConfig(new_categories=2)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    """One run per drift knob (covariate and new categories before any label arrived)."""
    champion = ms.champion()
    results = {}
    for name, drift in KNOBS.items():
        frame = ms.featured(ms.ROWS, seed=7, drift=drift)
        home = tmp_path_factory.mktemp(name)
        window = Window(home / "window.sqlite3", 100_000, 86_400, 600)
        labels = [] if name in ("covariate", "categories") else ms.label_records(frame)
        window.apply([parse_prediction(ms.encode(r)) for r in
                      ms.prediction_records(frame, champion.model, champion.threshold)],
                     [parse_label(ms.encode(r)) for r in labels], {})
        results[name] = analyse(champion.reference, window.frame(), min_rows=200,
                                min_labelled=200, precision_target=0.9,
                                report_dir=home / "report")
        window.close()
    return results


def test_traffic_without_drift_flags_nothing(runs: dict[str, RunResult]) -> None:
    result = runs["none"]
    assert result.status == "ok"
    assert result.drifted == [] and result.prediction is not None
    assert not result.prediction.drifted
    assert result.performance is not None and result.performance.pr_auc is not None
    assert not result.performance.dropped
    assert all(f.psi_band == "stable" for f in result.features)


def test_covariate_shift_flags_the_amount_features(
        runs: dict[str, RunResult], tmp_path_factory: pytest.TempPathFactory) -> None:
    result = runs["covariate"]
    assert "amount" in result.drifted
    assert set(result.drifted) <= {"amount", "amount_sum_1h", "amount_mean_1h",
                                   "amount_sum_24h", "amount_mean_24h"}
    amount = next(f for f in result.features if f.feature == "amount")
    assert amount.psi_band == "major"
    assert result.prediction is not None and result.prediction.drifted
    # no labels yet: performance waits for them and says why
    assert result.performance is not None and result.performance.pr_auc is None
    assert "labelled" in result.performance.note
    page = tmp_path_factory.getbasetemp() / "covariate0" / "report" / "evidently.html"
    assert page.stat().st_size > 10_000


def test_concept_drift_shows_only_once_labels_arrive(runs: dict[str, RunResult]) -> None:
    result = runs["concept"]
    assert result.drifted == []  # P(x) barely moves ...
    assert result.performance is not None and result.performance.dropped  # ... P(y|x) does
    assert result.performance.pr_auc < result.performance.training_pr_auc


def test_new_categories_are_reported_as_a_quality_problem(runs: dict[str, RunResult]) -> None:
    result = runs["categories"]
    assert result.quality["merchant_category"]["new_categories"]
    assert "merchant_category" in result.drifted


def test_too_few_rows_is_a_status_not_an_error(tmp_path: Path) -> None:
    result = analyse(ms.champion().reference, ms.featured(ms.ROWS, 7).head(0), min_rows=200,
                     min_labelled=200, precision_target=0.9)
    assert result.status.startswith("0 predictions") and result.features == []


# ---------------------------------------------------------------- reports
def test_reports_are_kept_indexed_and_the_newest_is_found(runs: dict[str, RunResult],
                                                           tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, monitor_reports_kept=2)
    for i, name in enumerate(("none", "concept", "covariate")):
        reports.save(settings, dataclasses.replace(runs[name], run_id=f"2026010{i}T000000Z"))
    kept = [p for p in reports.reports_dir(settings).iterdir() if p.is_dir()]
    assert sorted(p.name for p in kept) == ["20260101T000000Z", "20260102T000000Z"]
    newest = reports.newest(settings)
    assert newest is not None and "amount" in newest["drifted"]
    index = (reports.reports_dir(settings) / reports.INDEX).read_text()
    assert newest["run_id"] in index


def test_a_feature_serving_never_fills_counts_as_drifted(tmp_path: Path) -> None:
    champion = ms.champion()
    frame = ms.featured(ms.ROWS, seed=7).assign(amount_sum_24h=None)
    window = Window(tmp_path / "window.sqlite3", 100_000, 86_400, 600)
    window.apply([parse_prediction(ms.encode(r)) for r in
                  ms.prediction_records(frame, champion.model, champion.threshold)], [], {})
    result = analyse(champion.reference, window.frame(), min_rows=200, min_labelled=200,
                     precision_target=0.9)
    window.close()
    assert result.status == "ok" and result.drifted == ["amount_sum_24h"]
    assert result.quality["amount_sum_24h"]["missing_share"] == 1.0
    assert result.quality["score"]["missing_share"] == 0.0

"""One monitor run: the window against the champion's reference, with Evidently and PSI.

What a run computes, and why each:
- data drift per feature with Evidently's own methods. The methods are fixed, not left to
  Evidently's choice by sample size: normed Wasserstein distance for numbers and
  Jensen-Shannon distance for categories and for the per-user counts and flags (see
  COUNT_FEATURES), all flagged at 0.1. Below 1,000 rows Evidently
  would switch to KS and chi-squared p-values, and p-values on big windows flag shifts too
  small to matter, so the same shift would flip with traffic volume;
- PSI per feature from the bins precomputed for this champion (profile.py), with the 0.1 and
  0.2 bands a risk team reads;
- prediction drift: the same test on the score (the first signal when labels are late);
- data quality: missing values, values outside the reference range, unseen categories;
- performance where labels have arrived: PR-AUC and recall at the operating precision,
  against the same metrics the training run logged.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dojo.features import spec
from dojo.monitoring.profile import psi_band, psi_per_feature, quality
from dojo.monitoring.reference import SCORE, TARGET, Reference
from dojo.monitoring.thresholds import PERFORMANCE_DROP_RATIO

NUM_METHOD, CAT_METHOD = "wasserstein", "jensenshannon"
# Counts and flags (txn_count_10m, is_new_device, ...) are almost always 1 (or 0): their
# standard deviation is tiny, so a Wasserstein distance normalised by it turns a few more
# card-testing bursts in one sample into "drift". Compared as distributions of values
# (Jensen-Shannon, like a category), they drift only when the shares of 1, 2, 3... move.
COUNT_FEATURES: frozenset[str] = frozenset(spec.USER_COUNT_FEATURES)
ALL_MISSING = "all values missing"
DRIFT_THRESHOLD = 0.1


@dataclass
class FeatureDrift:
    feature: str
    method: str
    score: float
    threshold: float
    drifted: bool
    psi: float | None
    psi_band: str | None


@dataclass
class Performance:
    labelled: int
    positives: int
    pr_auc: float | None = None
    recall_at_precision: float | None = None
    training_pr_auc: float | None = None
    training_recall_at_precision: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.pr_auc is None or not self.training_pr_auc:
            return None
        return self.pr_auc / self.training_pr_auc

    @property
    def dropped(self) -> bool:
        return self.ratio is not None and self.ratio < PERFORMANCE_DROP_RATIO


@dataclass
class RunResult:
    run_id: str
    created: str
    champion_version: str | None
    rows: int
    status: str  # "ok" or why the run did not compare (too few rows, no champion)
    features: list[FeatureDrift] = field(default_factory=list)
    prediction: FeatureDrift | None = None
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    performance: Performance | None = None
    seconds: float = 0.0

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.features) if self.features else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drift_share"] = self.drift_share
        data["drifted"] = self.drifted
        if self.performance is not None:
            data["performance"].update(ratio=self.performance.ratio,
                                       dropped=self.performance.dropped)
        return data


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def _method(column: str, reference: Reference) -> str:
    """Evidently's test for one column: by kind, with counts and flags compared as values."""
    if column in reference.categorical or column in COUNT_FEATURES:
        return CAT_METHOD
    return NUM_METHOD


def _evidently(reference: Reference, current: pd.DataFrame,
               skip: list[str] | None = None) -> tuple[Any, dict[str, Any]]:
    """Run the report; returns the snapshot (for HTML) and {column: (method, score)}.

    One `ValueDrift` per column rather than `DataDriftPreset`: the preset computes every
    column's test three times (its column count, its legacy table and one ValueDrift per
    column) and draws plots for each; the drift share is one division, done here. Measured
    in benchmarks/bench_drift.py.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    columns = [c for c in [*reference.features, SCORE] if c not in (skip or [])]
    definition = DataDefinition(
        numerical_columns=[c for c in [*reference.numeric, SCORE] if c in columns],
        categorical_columns=[c for c in reference.categorical if c in columns])
    report = Report([
        ValueDrift(column=c, method=_method(c, reference), threshold=DRIFT_THRESHOLD)
        for c in columns])
    snapshot = report.run(
        Dataset.from_pandas(current[columns], data_definition=definition),
        Dataset.from_pandas(reference.sample[columns], data_definition=definition))
    scores: dict[str, Any] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            scores[config["column"]] = (config.get("method"), float(metric["value"]))
    return snapshot, scores


def _coerce(reference: Reference, window: pd.DataFrame) -> pd.DataFrame:
    """The window's features in the reference's types (JSON brought numbers back as objects)."""
    current = pd.DataFrame(index=window.index)
    for column in reference.numeric:
        current[column] = pd.to_numeric(window[column], errors="coerce") if column in window \
            else np.nan
    for column in reference.categorical:
        current[column] = window[column].astype("string").astype(object) if column in window \
            else None
    current[SCORE] = window[SCORE].astype(float)
    return current


def performance(reference: Reference, window: pd.DataFrame, min_labelled: int,
                precision_target: float) -> Performance:
    from sklearn.metrics import average_precision_score

    from dojo.training.evaluation import threshold_at_precision

    labelled = window[window[TARGET].notna()] if TARGET in window else window.iloc[:0]
    y = labelled[TARGET].to_numpy(dtype=float).astype(bool) if len(labelled) else np.array([])
    result = Performance(labelled=len(labelled), positives=int(y.sum()),
                         training_pr_auc=reference.training_metrics.get("pr_auc"),
                         training_recall_at_precision=reference.training_metrics.get(
                             "recall_at_precision"))
    if len(labelled) < min_labelled or result.positives == 0 or result.positives == len(y):
        result.note = (f"{len(labelled)} labelled predictions, {result.positives} frauds: "
                       f"need {min_labelled} with both outcomes")
        return result
    p = labelled[SCORE].to_numpy(dtype=float)
    result.pr_auc = float(average_precision_score(y, p))
    result.recall_at_precision = threshold_at_precision(y, p, precision_target)[1]
    return result


def analyse(reference: Reference | None, window: pd.DataFrame, *, min_rows: int,
            min_labelled: int, precision_target: float, report_dir: Path | None = None,
            run_id: str | None = None, evidently_max_rows: int | None = None) -> RunResult:
    """Compare the window with the reference; write the Evidently HTML into ``report_dir``.

    With ``evidently_max_rows``, Evidently sees a seeded sample of a larger window: its time
    grows with the rows (benchmarks/bench_drift.py), while a distance estimated from 50,000
    rows is within about 0.005 of the full window's, far below the 0.1 threshold. What is lost:
    the plots show the sample, and a category rarer than 1 in 50,000 may not appear in them.
    PSI, quality and performance still read every row.
    """
    started = time.perf_counter()
    run_id = run_id or new_run_id()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    version = reference.version if reference else None
    if reference is None:
        return RunResult(run_id, created, None, len(window), "no champion to compare with yet")
    if len(window) < min_rows:
        return RunResult(run_id, created, version, len(window),
                         f"{len(window)} predictions in the window, need {min_rows}")
    current = _coerce(reference, window)
    compared = current if not evidently_max_rows or len(current) <= evidently_max_rows else \
        current.sample(n=evidently_max_rows, random_state=0)
    # A feature with no value at all in the window (serving never fills it) cannot be tested
    # (Evidently refuses an empty column); it is the worst skew there is, so it counts as
    # drifted, and data quality shows it 100% missing.
    empty = [c for c in reference.features if compared[c].isna().all()]
    snapshot, scores = _evidently(reference, compared, skip=empty)
    scores.update({c: (ALL_MISSING, 1.0) for c in empty})
    psis = psi_per_feature(reference.profile, current)

    def drift(column: str) -> FeatureDrift:
        method, score = scores[column]
        value = psis.get(column)
        return FeatureDrift(column, method or "", score, DRIFT_THRESHOLD,
                            bool(math.isfinite(score) and score >= DRIFT_THRESHOLD),
                            value, psi_band(value) if value is not None else None)

    result = RunResult(run_id, created, version, len(window), "ok",
                       features=[drift(c) for c in reference.features], prediction=drift(SCORE),
                       quality=quality(reference.profile, current))
    result.performance = performance(reference, window.assign(**{SCORE: current[SCORE]}),
                                     min_labelled, precision_target)
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(report_dir / "evidently.html"))
    result.seconds = time.perf_counter() - started
    return result

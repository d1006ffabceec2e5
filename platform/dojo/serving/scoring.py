"""Score a micro-batch: one feature read, one predict per model, routing, shadow, the log.

Why the whole batch at once: a scikit-learn pipeline's fixed cost per call (input checks,
DataFrame handling) is most of its time on one row; 32 rows cost little more than one.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import BoundedSemaphore
from typing import Any

import structlog

from dojo.contracts import Transaction
from dojo.serving.alias_watcher import AliasWatcher
from dojo.serving.degraded import NO_USER_FEATURES, STORE_UNAVAILABLE, first_transaction_features
from dojo.serving.metrics import ServingMetrics
from dojo.serving.model_loading import LoadedModel
from dojo.serving.online_features import FeatureSource, FeaturesUnavailable, Fetched
from dojo.serving.prediction_log import PredictionLog
from dojo.serving.routing import CANARY, CHAMPION, SHADOW, RoutingPolicy

log = structlog.get_logger(__name__)

FRAUD, LEGIT = "fraud", "legit"


def prepare_scoring_thread() -> None:
    """Settings of the threads that call the model (both are per thread, set once).

    One OpenMP thread: the event loop, the prediction log and the other processes share the
    cores, and an oversubscribed OpenMP pool spins instead of working (measured on 2 busy
    cores, the boosted champion: one row 8.4 -> 4.1 ms, 32 rows 6.8 -> 4.4 ms, together with
    the next setting). No input re-validation inside scikit-learn: the request was validated
    by pydantic and the frame is built by the server, so the finiteness and parameter checks
    would only repeat work on every call.
    """
    import sklearn
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)


class NotReady(RuntimeError):
    """No model is loaded yet; the message is /ready's reason."""


@dataclass(frozen=True)
class Row:
    """One transaction to score, with the id of the HTTP request that carried it."""

    transaction: Transaction
    request_id: str


@dataclass(frozen=True)
class Scored:
    request_id: str
    transaction_id: str
    score: float
    decision: str
    threshold: float
    model_name: str
    model_version: str
    variant: str
    degraded: bool
    degraded_reason: str | None
    feature_age_seconds: float | None


class Scorer:
    """Turns rows into Scored results with the models the watcher holds right now."""

    def __init__(self, watcher: AliasWatcher, features: FeatureSource, metrics: ServingMetrics,
                 prediction_log: PredictionLog | None, policy: RoutingPolicy) -> None:
        self.watcher = watcher
        self.features = features
        self.metrics = metrics
        self.prediction_log = prediction_log
        self.policy = policy  # replaced whole by the admin endpoint
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow",
                                               initializer=prepare_scoring_thread)
        # Shadow work waiting at most this many batches; beyond, skip (and count) it.
        self._shadow_slots = BoundedSemaphore(4)

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=True, cancel_futures=False)

    # ------------------------------------------------------------------ features
    def _features(self, rows: list[Row]) -> tuple[dict[str, list[Any]], list[str | None],
                                                  list[float | None]]:
        transactions = [row.transaction for row in rows]
        started = time.perf_counter()
        try:
            fetched = self.features.fetch(transactions)
            store_problem = None
        except FeaturesUnavailable as error:
            fetched, store_problem = None, str(error)
        self.metrics.feature_fetch.observe(time.perf_counter() - started)
        if fetched is None:
            fetched = Fetched(columns={}, user_ts=[None] * len(rows))
        columns = {name: list(values) for name, values in fetched.columns.items()}
        reasons: list[str | None] = []
        now = time.time()
        ages: list[float | None] = []
        for i, transaction in enumerate(transactions):
            stamp = fetched.user_ts[i]
            reason = STORE_UNAVAILABLE if store_problem else (
                NO_USER_FEATURES if stamp is None else None)
            reasons.append(reason)
            ages.append(None if stamp is None else max(0.0, now - stamp))
            if reason is not None:
                for name, value in first_transaction_features(transaction).items():
                    columns.setdefault(name, [None] * len(rows))[i] = value
        if store_problem:
            log.warning("serving.degraded", reason=store_problem)
        return columns, reasons, ages

    @staticmethod
    def _request_columns(rows: list[Row], columns: dict[str, list[Any]],
                         model: LoadedModel) -> None:
        for name in model.columns:
            if name not in columns:
                columns[name] = [getattr(row.transaction, name) for row in rows]

    # ------------------------------------------------------------------ scoring
    def score(self, rows: list[Row]) -> list[Scored]:
        served = self.watcher.champion  # read once: the whole batch uses this model
        if served is None:
            raise NotReady(self.watcher.problem or "no model loaded yet")
        champion = served.model
        policy = self.policy
        challenger_served = self.watcher.challenger if policy.needs_challenger else None
        challenger = challenger_served.model if challenger_served else None
        columns, reasons, ages = self._features(rows)

        variants = [policy.variant(row.transaction.user_id) if challenger else CHAMPION
                    for row in rows]
        scores = [0.0] * len(rows)
        models: list[LoadedModel] = [champion] * len(rows)
        canary = [i for i, v in enumerate(variants) if v == CANARY]
        if canary and challenger is not None:
            try:
                self._score_rows(rows, columns, challenger, CANARY, canary, scores, models)
            except Exception as error:
                # A failing canary must not fail its users: they get the champion's answer,
                # and the failure is counted where the rollout's error-rate gate reads it.
                self.metrics.variant_errors.labels(CANARY).inc(len(canary))
                log.warning("serving.canary_failed", version=challenger.version,
                            error=f"{type(error).__name__}: {error}"[:300])
                for i in canary:
                    variants[i] = CHAMPION
        picked = [i for i, v in enumerate(variants) if v == CHAMPION]
        if picked:
            self._score_rows(rows, columns, champion, CHAMPION, picked, scores, models)
        results = []
        for i, row in enumerate(rows):
            model = models[i]
            decision = FRAUD if scores[i] >= model.threshold else LEGIT
            results.append(Scored(
                request_id=row.request_id, transaction_id=row.transaction.transaction_id,
                score=scores[i], decision=decision, threshold=model.threshold,
                model_name=model.name, model_version=model.version, variant=variants[i],
                degraded=reasons[i] is not None, degraded_reason=reasons[i],
                feature_age_seconds=ages[i]))
            self.metrics.predictions.labels(decision, variants[i]).inc()
            if reasons[i] is not None:
                self.metrics.degraded.labels(reasons[i]).inc()
        self._log(rows, columns, results)
        if policy.shadow and challenger is not None:
            self._shadow(rows, columns, reasons, challenger)
        return results

    def _score_rows(self, rows: list[Row], columns: dict[str, list[Any]], model: LoadedModel,
                    variant: str, picked: list[int], scores: list[float],
                    models: list[LoadedModel]) -> None:
        """Score the ``picked`` rows with ``model`` into ``scores``; time it and record the
        scores by variant (what the rollout gates compare)."""
        self._request_columns(rows, columns, model)
        subset = {name: [columns[name][i] for i in picked] for name in model.columns} \
            if len(picked) < len(rows) else columns
        started = time.perf_counter()
        result = model.scores(model.frame(subset))
        self.metrics.model_duration.labels(variant).observe(time.perf_counter() - started)
        observe = self.metrics.scores.labels(variant).observe
        for i, p in zip(picked, result, strict=True):
            scores[i] = float(p)
            models[i] = model
            observe(scores[i])

    # ------------------------------------------------------------------ off the request path
    def _shadow(self, rows: list[Row], columns: dict[str, list[Any]],
                reasons: list[str | None], challenger: LoadedModel) -> None:
        if not self._shadow_slots.acquire(blocking=False):
            self.metrics.shadow_skipped.inc(len(rows))
            return

        def run() -> None:
            try:
                self._request_columns(rows, columns, challenger)
                started = time.perf_counter()
                scores = challenger.scores(challenger.frame(columns))
                self.metrics.model_duration.labels(SHADOW).observe(
                    time.perf_counter() - started)
                shadow = [Scored(
                    request_id=row.request_id, transaction_id=row.transaction.transaction_id,
                    score=float(p), decision=FRAUD if p >= challenger.threshold else LEGIT,
                    threshold=challenger.threshold, model_name=challenger.name,
                    model_version=challenger.version, variant=SHADOW,
                    degraded=reasons[i] is not None, degraded_reason=reasons[i],
                    feature_age_seconds=None) for i, (row, p) in enumerate(
                        zip(rows, scores, strict=True))]
                for item in shadow:
                    self.metrics.predictions.labels(item.decision, SHADOW).inc()
                    self.metrics.scores.labels(SHADOW).observe(item.score)
                self._log(rows, columns, shadow)
            except Exception as error:  # a broken challenger must not disturb anything
                self.metrics.variant_errors.labels(SHADOW).inc(len(rows))
                log.warning("serving.shadow_failed", error=f"{type(error).__name__}: {error}")
            finally:
                self._shadow_slots.release()

        self._shadow_pool.submit(run)

    def _log(self, rows: list[Row], columns: dict[str, list[Any]],
             results: list[Scored]) -> None:
        if self.prediction_log is None:
            return
        scored_at = datetime.now(UTC).isoformat()
        records = []
        for i, (row, result) in enumerate(zip(rows, results, strict=True)):
            t = row.transaction
            records.append({
                "request_id": result.request_id, "transaction_id": t.transaction_id,
                "ts": t.ts, "scored_at": scored_at, "user_id": t.user_id,
                "merchant_id": t.merchant_id, "variant": result.variant,
                "model_name": result.model_name, "model_version": result.model_version,
                "features": {name: _plain(values[i]) for name, values in columns.items()},
                "score": result.score, "decision": result.decision,
                "threshold": result.threshold, "degraded": result.degraded,
            })
        self.prediction_log.offer(records)


def _plain(value: Any) -> Any:
    """JSON-safe: NaN becomes null (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value

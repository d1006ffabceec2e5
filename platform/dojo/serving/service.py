"""The model server's parts, built from settings and wired together (no I/O until start).

Why injectable parts: the unit tests hand in an in-memory registry and feature source (no
network), the integration tests the real MLflow, Feast and broker on test ports; the wiring
and the routes are the same code in both.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from dojo.contracts import Transaction
from dojo.serving.alias_watcher import AliasWatcher, MlflowRegistry, Registry
from dojo.serving.batching import MicroBatcher
from dojo.serving.lru_cache import LRUCache
from dojo.serving.metrics import ServingMetrics
from dojo.serving.model_loading import LoadedModel, check_columns
from dojo.serving.online_features import SERVICE_FEATURES, FeatureSource, OnlineFeatures
from dojo.serving.prediction_log import PredictionLog
from dojo.serving.rate_limit import RateLimiter
from dojo.serving.routing import RoutingPolicy
from dojo.serving.scoring import Row, Scored, Scorer, prepare_scoring_thread
from dojo.settings import Settings


class ModelService:
    def __init__(self, settings: Settings, registry: Registry | None = None,
                 features: FeatureSource | None = None,
                 prediction_log: PredictionLog | None = None, log_predictions: bool = True,
                 metrics: ServingMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ServingMetrics()
        self.started_at = datetime.now(UTC)
        self.cache: LRUCache[LoadedModel] = LRUCache(
            settings.serving_model_cache_size, int(settings.serving_model_cache_mb * 1e6))
        self.features = features or OnlineFeatures(settings)
        self.prediction_log = prediction_log if prediction_log is not None else (
            PredictionLog(settings, self.metrics) if log_predictions else None)
        policy = RoutingPolicy(settings.serving_routing, settings.serving_canary_share)
        self.watcher = AliasWatcher(
            registry or MlflowRegistry(settings), self.cache, self.metrics,
            poll_s=settings.serving_alias_poll_s, retry_s=settings.serving_registry_retry_s,
            wants_challenger=lambda: self.scorer.policy.needs_challenger,
            check_model=lambda model: check_columns(model.columns, set(SERVICE_FEATURES)))
        self.scorer = Scorer(self.watcher, self.features, self.metrics, self.prediction_log,
                             policy)
        self.batcher: MicroBatcher[Row, Scored] = MicroBatcher(
            self.scorer.score, settings.serving_micro_batch_max, self.metrics,
            thread_initializer=prepare_scoring_thread)
        self.limiter = RateLimiter(settings.serving_rate_limit_per_s,
                                   settings.serving_rate_limit_burst)

    async def start(self) -> None:
        if self.prediction_log is not None:
            self.prediction_log.start()
        self.features.warm_up()
        self.watcher.start()
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        self.watcher.stop()
        self.scorer.close()
        if self.prediction_log is not None:
            self.prediction_log.stop()

    async def predict(self, transactions: list[Transaction]) -> list[Scored]:
        request_id = uuid.uuid4().hex
        return await self.batcher.submit([Row(t, request_id) for t in transactions])

    def set_routing(self, policy: RoutingPolicy) -> None:
        self.scorer.policy = policy  # one reference: the next batch sees the new policy

"""Prometheus metrics of the model server (names: `dojo_serving_*`, base units).

Why a registry per app: tests build several apps in one process, and the global registry
refuses a second metric of the same name. /metrics serves exactly this app's registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from dojo.features.stream_metrics import use_in_memory_values

# Latency: the fast path is a few milliseconds; the tail under load reaches seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0)
FEATURE_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
# Scores in twenty equal bins: the rollout gates compare the champion's and the challenger's
# score distributions (PSI) from these buckets, without reading the prediction log.
SCORE_BUCKETS = tuple(round(i / 20, 2) for i in range(1, 21))


class ServingMetrics:
    def __init__(self) -> None:
        use_in_memory_values()
        r = self.registry = CollectorRegistry()
        self.request_duration = Histogram(
            "dojo_serving_request_duration_seconds", "Request latency by route and status.",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=r)
        # A series born at its first request starts at N, not 0, and increase() cannot count
        # those N (Prometheus never saw 0): the SLO report and the rate alerts would miss the
        # first burst after a start. So the main route's success and failure series exist from
        # the start, at zero.
        for status in ("200", "500", "503"):
            self.request_duration.labels("/predict", "POST", status)
        self.in_flight = Gauge("dojo_serving_in_flight_requests", "Requests being handled.",
                               registry=r)
        self.predictions = Counter(
            "dojo_serving_predictions", "Predictions by decision and variant "
            "(champion, canary; shadow ones are never returned).",
            ["decision", "variant"], registry=r)
        self.feature_fetch = Histogram(
            "dojo_serving_feature_fetch_duration_seconds",
            "One online read of the fraud_model features (one per micro-batch).",
            buckets=FEATURE_BUCKETS, registry=r)
        self.degraded = Counter(
            "dojo_serving_degraded_responses", "Responses scored with default features.",
            ["reason"], registry=r)
        self.model = Info("dojo_serving_model", "The loaded version per alias.", ["alias"],
                          registry=r)
        self.reloads = Counter("dojo_serving_model_reloads", "Alias changes acted on, by outcome.",
                               ["alias", "outcome"], registry=r)
        self.rate_limited = Counter("dojo_serving_rate_limited_requests",
                                    "Requests refused with 429.", registry=r)
        self.log_sent = Counter("dojo_serving_prediction_log_sent",
                                "Predictions the broker acknowledged on `predictions`.",
                                registry=r)
        self.log_dropped = Counter(
            "dojo_serving_prediction_log_dropped", "Predictions lost before the broker "
            "acknowledged them (buffer_full, send_failed).", ["reason"], registry=r)
        self.batch_size = Histogram("dojo_serving_micro_batch_rows",
                                    "Rows scored together in one micro-batch.",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.cache_evictions = Counter("dojo_serving_model_cache_evictions",
                                       "Model versions evicted from the LRU cache.", registry=r)
        self.cache_bytes = Gauge("dojo_serving_model_cache_bytes",
                                 "Bytes of the model versions in the cache.", registry=r)
        self.cache_entries = Gauge("dojo_serving_model_cache_entries",
                                   "Model versions in the cache.", registry=r)
        self.scores = Histogram(
            "dojo_serving_scores", "Scores by variant (champion, canary, shadow): what the "
            "rollout gates compare.", ["variant"], buckets=SCORE_BUCKETS, registry=r)
        self.model_duration = Histogram(
            "dojo_serving_model_duration_seconds", "One predict call of a model on its rows "
            "of a micro-batch, by variant.", ["variant"], buckets=LATENCY_BUCKETS, registry=r)
        self.variant_errors = Counter(
            "dojo_serving_variant_errors", "Rows a challenger failed to score (canary rows "
            "then get the champion's answer; shadow rows are dropped).", ["variant"],
            registry=r)
        self.shadow_skipped = Counter("dojo_serving_shadow_skipped",
                                      "Shadow scorings skipped because the shadow queue was full.",
                                      registry=r)

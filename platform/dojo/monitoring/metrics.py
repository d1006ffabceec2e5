"""The monitor's Prometheus metrics: what the drift and performance alert rules read.

Why gauges set after each run (and not computed on scrape): a run takes seconds and reads
the whole window; a scrape every 5 s must be cheap, so it reads the last run's numbers.
`dojo_monitor_last_run_timestamp_seconds` lets a rule tell a quiet monitor from a dead one.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Info

from dojo.monitoring.analysis import RunResult
from dojo.monitoring.window import WindowSizes


class MonitorMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.drift_share = Gauge("dojo_monitor_drift_share",
                                 "Share of the model's features flagged as drifted.", registry=r)
        self.feature_drift = Gauge(
            "dojo_monitor_feature_drift_score",
            "Evidently drift score per feature (normed Wasserstein / Jensen-Shannon).",
            ["feature", "method"], registry=r)
        self.feature_drifted = Gauge("dojo_monitor_feature_drifted",
                                     "1 if the feature's drift score is over its threshold.",
                                     ["feature"], registry=r)
        self.feature_psi = Gauge("dojo_monitor_feature_psi",
                                 "Population stability index per feature.", ["feature"],
                                 registry=r)
        self.prediction_drift = Gauge("dojo_monitor_prediction_drift_score",
                                      "Drift score of the model's score.", registry=r)
        self.performance = Gauge(
            "dojo_monitor_performance",
            "Quality on labelled predictions (source=live) and in training (source=training).",
            ["metric", "source"], registry=r)
        self.performance_ratio = Gauge("dojo_monitor_performance_ratio",
                                       "Live PR-AUC / training PR-AUC.", registry=r)
        self.window = Gauge("dojo_monitor_window_predictions", "Predictions in the window.",
                            registry=r)
        self.labels_joined = Gauge("dojo_monitor_labels_joined",
                                   "Predictions in the window whose label has arrived.",
                                   registry=r)
        self.labels_waiting = Gauge("dojo_monitor_labels_waiting",
                                    "Labels read whose prediction has not been read yet.",
                                    registry=r)
        self.labelled_rows = Gauge("dojo_monitor_labelled_rows",
                                   "Labelled predictions the last run scored.", registry=r)
        self.bad_messages = Counter("dojo_monitor_bad_messages",
                                    "Messages skipped, by topic and reason.",
                                    ["topic", "reason"], registry=r)
        self.messages = Counter("dojo_monitor_messages", "Messages applied to the window.",
                                ["topic"], registry=r)
        self.lag = Gauge("dojo_monitor_consumer_lag_messages",
                         "Messages not yet read, per topic.", ["topic"], registry=r)
        self.runs = Counter("dojo_monitor_runs", "Monitor runs by status (ok, skipped, failed).",
                            ["status"], registry=r)
        self.last_run = Gauge("dojo_monitor_last_run_timestamp_seconds",
                              "When the last run finished (Unix time).", registry=r)
        self.run_seconds = Gauge("dojo_monitor_run_duration_seconds",
                                 "How long the last run took.", registry=r)
        self.reference = Info("dojo_monitor_reference", "The champion the window is compared "
                              "with.", registry=r)
        self.triggers = Counter("dojo_monitor_retrain_triggers",
                                "Alerts that reached the retrain webhook, by outcome.",
                                ["outcome"], registry=r)

        # Unknown until a run says otherwise: NaN, never 0. A ratio of 0 would fire
        # DojoPerformanceDrop, a last run at 0 (1970) DojoMonitorStale, right after a start.
        for gauge in (self.drift_share, self.prediction_drift, self.performance_ratio):
            gauge.set(float("nan"))
        self.last_run.set(time.time())  # the stale clock starts with the process

    def window_sizes(self, sizes: WindowSizes) -> None:
        self.window.set(sizes.predictions)
        self.labels_joined.set(sizes.labels_joined)
        self.labels_waiting.set(sizes.labels_waiting)

    def record_run(self, result: RunResult, finished_at: float) -> None:
        self.last_run.set(finished_at)
        self.run_seconds.set(result.seconds)
        if result.status != "ok":
            self.runs.labels("skipped").inc()
            return
        self.runs.labels("ok").inc()
        self.drift_share.set(result.drift_share)
        for f in result.features:
            self.feature_drift.labels(f.feature, f.method).set(f.score)
            self.feature_drifted.labels(f.feature).set(int(f.drifted))
            if f.psi is not None:
                self.feature_psi.labels(f.feature).set(f.psi)
        if result.prediction is not None:
            self.prediction_drift.set(result.prediction.score)
        perf = result.performance
        if perf is None:
            return
        self.labelled_rows.set(perf.labelled)
        for metric, live, trained in (
                ("pr_auc", perf.pr_auc, perf.training_pr_auc),
                ("recall_at_precision", perf.recall_at_precision,
                 perf.training_recall_at_precision)):
            if live is not None:
                self.performance.labels(metric, "live").set(live)
            if trained is not None:
                self.performance.labels(metric, "training").set(trained)
        if perf.ratio is not None:
            self.performance_ratio.set(perf.ratio)

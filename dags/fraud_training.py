"""### fraud_training: retrain the fraud model for one data interval

`resolve_window` → `check_inputs` → `needs_training` (skip if this interval already has a
finished MLflow run) → `validate` → `build_training_set` (Feast point-in-time join over the
`fraud_model` feature service) → `split` (by time) → `train` (logistic regression and
gradient boosting) → `evaluate` → `gate` → `publish` (MLflow run; register and set the
`challenger` alias only if every gate passed).

Each run trains on the `DOJO_TRAIN_LOOKBACK_DAYS` days that end at its data interval's end.
Runs are idempotent per interval; backfill with `dojo train --start A --end B --backfill`.
The logic lives in `dojo.training.pipeline`; this file only wires tasks (it is parsed every
30 s, so it imports nothing heavy and opens no connection at parse time).
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pendulum
from airflow.sdk import (
    CronDataIntervalTimetable,
    ExceptionRetryPolicy,
    Param,
    RetryAction,
    RetryRule,
    dag,
    task,
)

from dojo.training.names import DAG_ID

# [START retry_policy]
# Retry what may come back by itself, fail at once what cannot: a dependency that is down is
# retried with exponential backoff (15 s, 30 s, 60 s); bad data and a refused model fail
# immediately, with the reason in the task log.
RETRY_POLICY = ExceptionRetryPolicy(rules=[
    RetryRule(exception="dojo.training.errors.DependencyDown", action=RetryAction.RETRY,
              reason="a dependency is down; retrying with backoff"),
    RetryRule(exception=["dojo.training.errors.InputsMissing",
                         "dojo.training.errors.DataValidationError",
                         "dojo.training.errors.GateFailed", "builtins.ValueError"],
              action=RetryAction.FAIL, reason="retrying cannot fix bad data or a refused model"),
])
DEFAULT_ARGS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=5),
    "retry_policy": RETRY_POLICY,
    "execution_timeout": timedelta(minutes=30),
}
# [END retry_policy]


def _settings() -> Any:
    from dojo.settings import get_settings

    return get_settings()


# [START dag]
@dag(
    dag_id=DAG_ID,
    # Data intervals [day, next day): a run knows exactly which data it is about, so reruns
    # and backfills read the same rows. (A plain cron string would make zero-length intervals
    # in Airflow 3: create_cron_data_intervals defaults to False.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,  # history is trained on demand (`dojo train --backfill`), not at unpause
    # Two at a time: an unpause starts the latest scheduled interval, and a `dojo train` run
    # should not queue behind it. Backfills run their intervals one by one (dojo train).
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    params={
        "force": Param(False, type="boolean",
                       description="Train again even if this interval already has a run."),
        "shuffle_labels": Param(False, type="boolean",
                                description="Drill: shuffle training labels (a useless model "
                                            "the gates must refuse); implies force."),
        "refresh_features": Param(True, type="boolean",
                                  description="Rebuild Feast's offline feature tables first."),
    },
    tags=["fraud", "training"],
    doc_md=__doc__,
)
def fraud_training() -> None:
    @task
    def resolve_window(data_interval_start: Any = None, data_interval_end: Any = None) -> dict:
        """The days this run reads, from its data interval."""
        from dojo.training import pipeline

        return pipeline.resolve(_settings(), data_interval_start, data_interval_end)

    @task.short_circuit
    def needs_training(window: dict, params: dict | None = None) -> bool:
        """Skip the rest when this interval already has a finished MLflow run."""
        from dojo.training import pipeline

        params = params or {}
        # a drill run must train: the point is to watch the gates refuse its model
        force = bool(params.get("force")) or bool(params.get("shuffle_labels"))
        return pipeline.needs_training(_settings(), window, force=force)

    @task
    def check_inputs(window: dict) -> dict:
        """Every day of the window is in the offline store, with labels."""
        from dojo.training import pipeline

        return pipeline.check_inputs(_settings(), window)

    @task
    def validate(window: dict) -> dict:
        """Schema, nulls, ranges and label rate of the raw rows."""
        from dojo.training import pipeline

        return pipeline.validate(_settings(), window)

    @task
    def build_training_set(window: dict, params: dict | None = None) -> dict:
        """Point-in-time features from the `fraud_model` feature service."""
        from dojo.training import pipeline

        refresh = bool((params or {}).get("refresh_features", True))
        return pipeline.build_training_set(_settings(), window, refresh_features=refresh)

    @task
    def split(window: dict) -> dict:
        """Train on the past, validate on the newest rows."""
        from dojo.training import pipeline

        return pipeline.split(_settings(), window)

    @task
    def train(window: dict, params: dict | None = None) -> dict:
        """Fit the baseline and the boosted model."""
        from dojo.training import pipeline

        shuffle = bool((params or {}).get("shuffle_labels", False))
        return pipeline.train(_settings(), window, shuffle_labels=shuffle)

    @task
    def evaluate(window: dict) -> dict:
        """Quality, calibration, segments, latency and size; pick the candidate."""
        from dojo.training import pipeline

        return pipeline.evaluate(_settings(), window)

    @task
    def gate(window: dict) -> dict:
        """Floors, champion comparison, budgets, segment gap."""
        from dojo.training import pipeline

        return pipeline.gate(_settings(), window)

    @task
    def publish(window: dict, run_id: str | None = None, params: dict | None = None) -> dict:
        """Log to MLflow; register and alias `challenger` only if the gates passed."""
        from dojo.training import pipeline

        return pipeline.publish(_settings(), window, airflow_run_id=run_id or "",
                                params={k: v for k, v in (params or {}).items()})

    window = resolve_window()
    steps = [check_inputs(window), needs_training(window), validate(window),
             build_training_set(window), split(window), train(window), evaluate(window),
             gate(window), publish(window)]
    for upstream, downstream in pairwise(steps):
        upstream >> downstream
# [END dag]


fraud_training()

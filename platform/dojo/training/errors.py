"""The ways a training run can fail, split by what a retry would achieve.

Why two families: a dependency that is down (MLflow restarting, the feature registry being
rewritten) usually comes back, so the DAG retries those with backoff; bad or missing data and a
rejected model do not fix themselves, so retrying them only delays the red light. The DAG maps
these classes to Airflow's retry policy (dags/fraud_training.py), and every message says what
failed and what to do about it.
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base class: a training step failed for a reason stated in the message."""


class DependencyDown(TrainingError):
    """A service or store the step needs is unreachable; retrying later may succeed."""

    def __init__(self, dependency: str, where: str, detail: str, hint: str = "") -> None:
        self.dependency = dependency
        message = f"dependency down: {dependency} at {where} ({detail})"
        super().__init__(f"{message}; {hint}" if hint else message)


class InputsMissing(TrainingError):
    """The data the interval needs is not there (no partitions, no labels, no features)."""


class DataValidationError(TrainingError):
    """The data broke one or more rules; each failure names the column and the rule."""

    def __init__(self, failures: list[tuple[str, str, str]]) -> None:
        self.failures = failures  # (column, rule, detail)
        lines = [f"column {col!r} failed rule {rule!r}: {detail}" for col, rule, detail in failures]
        super().__init__("data validation failed:\n  " + "\n  ".join(lines))

    @property
    def columns(self) -> list[str]:
        return [column for column, _, _ in self.failures]


class GateFailed(TrainingError):
    """The candidate model did not pass the promotion gates; it was logged, not registered."""

    def __init__(self, reasons: list[str], run_id: str) -> None:
        self.reasons = reasons
        self.run_id = run_id
        super().__init__(
            f"gate failed, model not registered (MLflow run {run_id}): " + "; ".join(reasons)
        )

"""Which days a training run reads, derived from the Airflow data interval.

Why the data interval and not "now": a run for a given interval must read the same rows
whenever it runs (first time, retry, backfill a month later), so reruns are reproducible and
the MLflow run can be found again by its interval. A daily run trains on the `lookback` days
that end where its interval ends; a longer interval (`dojo train --start --end`) is used whole.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dojo.settings import Settings


def _utc(value: datetime | str) -> datetime:
    # Through isoformat: Airflow hands pendulum DateTimes, whose arithmetic can drop the zone.
    parsed = datetime.fromisoformat(value if isinstance(value, str) else value.isoformat())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class TrainingWindow:
    """A run's data interval and the span of event time it trains and validates on."""

    interval_start: datetime
    interval_end: datetime
    window_start: datetime

    @property
    def id(self) -> str:
        """Stable name of the interval: MLflow tag value and work-directory name."""
        return f"{self.interval_start:%Y-%m-%dT%H%M}_{self.interval_end:%Y-%m-%dT%H%M}"

    @property
    def days(self) -> list[date]:
        """Calendar days (offline-store partitions) the window touches."""
        first = self.window_start.date()
        last = (self.interval_end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def to_dict(self) -> dict[str, str]:
        """JSON-safe form, for XCom and MLflow params."""
        return {key: value.isoformat() for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> TrainingWindow:
        return cls(**{key: _utc(value) for key, value in data.items()})


def resolve_window(
    start: datetime | str | None, end: datetime | str | None, lookback_days: int
) -> TrainingWindow:
    """The window of a run whose data interval is [start, end).

    Raises ValueError for a missing or empty interval (a manual run without a logical date
    has none), naming how to trigger a run that has one.
    """
    if start is None or end is None:
        raise ValueError(
            "this run has no data interval: trigger it with a logical date, "
            "e.g. `dojo train --start 2025-01-14 --end 2025-01-15`"
        )
    interval_start, interval_end = _utc(start), _utc(end)
    if interval_end <= interval_start:
        raise ValueError(f"empty data interval [{interval_start}, {interval_end})")
    window_start = min(interval_start, interval_end - timedelta(days=lookback_days))
    return TrainingWindow(interval_start, interval_end, window_start)


def work_dir(settings: Settings, window: TrainingWindow) -> Path:
    """Where the run's steps hand files to each other (one folder per interval).

    Tasks run as separate processes, so anything bigger than a small dict goes through files;
    a retry or rerun of the same interval overwrites the same folder.
    """
    return settings.home / "training" / window.id

"""Data expectations for the raw transactions a training run reads.

Why validate before training: a model trained on broken data still trains, and its metrics
may even look fine on equally broken validation data. A renamed upstream column shows up here
as a column of nulls (the offline store reads every file with one fixed schema), a unit change
as amounts out of range, a labelling outage as a label rate far from normal. Each failure
names the column and the rule, so the person on call knows where to look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from pandas.api import types as ptypes

from dojo.contracts import CHANNELS, CURRENCIES
from dojo.settings import Settings
from dojo.training.errors import DataValidationError
from dojo.training.window import TrainingWindow

Failure = tuple[str, str, str]  # column, rule, detail

# column -> (dtype check, what the check means)
SCHEMA: dict[str, tuple[Callable[[pd.Series], bool], str]] = {
    "transaction_id": (ptypes.is_object_dtype, "string"),
    "ts": (ptypes.is_datetime64_any_dtype, "timestamp"),
    "user_id": (ptypes.is_object_dtype, "string"),
    "merchant_id": (ptypes.is_object_dtype, "string"),
    "merchant_category": (ptypes.is_object_dtype, "string"),
    "amount": (ptypes.is_float_dtype, "float"),
    "currency": (ptypes.is_object_dtype, "string"),
    "country": (ptypes.is_object_dtype, "string"),
    "device_id": (ptypes.is_object_dtype, "string"),
    "channel": (ptypes.is_object_dtype, "string"),
    "is_fraud": (lambda s: ptypes.is_bool_dtype(s) or ptypes.is_object_dtype(s), "boolean"),
    "label_ts": (ptypes.is_datetime64_any_dtype, "timestamp"),
}
NOT_NULL: tuple[str, ...] = (
    "transaction_id", "ts", "user_id", "merchant_id", "merchant_category", "amount",
    "currency", "country", "device_id", "channel",
)
MAX_AMOUNT = 1_000_000.0  # the event schema's bound (dojo.contracts.Transaction)


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    labelled_rows: int
    positives: int
    label_rate: float
    duplicate_ids: int

    def to_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def _share(mask: pd.Series, frame: pd.DataFrame, example: pd.Series | None = None) -> str:
    detail = f"{int(mask.sum()):,} of {len(frame):,} rows"
    if example is not None and mask.any():
        detail += f" (e.g. {example[mask].iloc[0]!r})"
    return detail


def schema_failures(frame: pd.DataFrame) -> list[Failure]:
    failures = []
    for column, (is_kind, kind) in SCHEMA.items():
        if column not in frame.columns:
            failures.append((column, "present", "the column is missing"))
        elif not is_kind(frame[column]):
            failures.append((column, f"type {kind}", f"found dtype {frame[column].dtype}"))
    return failures


def value_failures(frame: pd.DataFrame) -> list[Failure]:
    """Nulls, ranges and allowed values, row by row (schema must already hold)."""
    failures: list[Failure] = []
    for column in NOT_NULL:
        nulls = frame[column].isna()
        if nulls.any():
            failures.append((column, "not null", _share(nulls, frame)
                             + " are null (an upstream rename reads as a column of nulls)"))
    amount = frame["amount"]
    bad = amount.notna() & ~((amount > 0) & (amount < MAX_AMOUNT))
    if bad.any():
        failures.append(("amount", f"0 < amount < {MAX_AMOUNT:,.0f}", _share(bad, frame, amount)))
    for column, allowed in (("channel", CHANNELS), ("currency", CURRENCIES)):
        values = frame[column]
        bad = values.notna() & ~values.isin(allowed)
        if bad.any():
            failures.append((column, f"one of {', '.join(allowed)}", _share(bad, frame, values)))
    country = frame["country"]
    bad = country.notna() & ~country.astype(str).str.fullmatch(r"[A-Z]{2}")
    if bad.any():
        failures.append(("country", "two-letter code", _share(bad, frame, country)))
    half = frame["is_fraud"].isna() != frame["label_ts"].isna()
    if half.any():
        failures.append(("is_fraud", "null exactly when label_ts is null", _share(half, frame)))
    early = frame["label_ts"].notna() & (frame["label_ts"] < frame["ts"])
    if early.any():
        failures.append(("label_ts", "label_ts >= ts", _share(early, frame)))
    return failures


def label_failures(labelled: pd.DataFrame, settings: Settings) -> list[Failure]:
    """Enough labelled rows and positives, and a label rate in the expected band."""
    failures: list[Failure] = []
    rows = len(labelled)
    positives = int(labelled["is_fraud"].astype(bool).sum()) if rows else 0
    if rows < settings.train_min_rows:
        failures.append(("is_fraud", f"labelled rows >= {settings.train_min_rows:,}",
                         f"only {rows:,} rows had a label by the interval end"))
    if positives < settings.train_min_positives:
        failures.append(("is_fraud", f"positives >= {settings.train_min_positives}",
                         f"only {positives} fraud labels"))
    rate = positives / rows if rows else 0.0
    low, high = settings.train_label_rate_min, settings.train_label_rate_max
    if rows and not low <= rate <= high:
        failures.append(("is_fraud", f"label rate in [{low:.3%}, {high:.1%}]",
                         f"label rate is {rate:.3%} (labelling outage or a label bug?)"))
    return failures


def validate(frame: pd.DataFrame, window: TrainingWindow, settings: Settings) -> ValidationReport:
    """Check the window's raw rows; raise DataValidationError listing every failed rule."""
    failures = schema_failures(frame)
    if failures:  # value rules would only repeat the schema problem
        raise DataValidationError(failures)
    failures = value_failures(frame)
    labelled = labelled_rows(frame, window)
    failures += label_failures(labelled, settings)
    if failures:
        raise DataValidationError(failures)
    positives = int(labelled["is_fraud"].astype(bool).sum())
    return ValidationReport(
        rows=len(frame), labelled_rows=len(labelled), positives=positives,
        label_rate=positives / len(labelled),
        duplicate_ids=int(frame["transaction_id"].duplicated().sum()),
    )


def labelled_rows(frame: pd.DataFrame, window: TrainingWindow) -> pd.DataFrame:
    """Rows whose label had arrived by the interval end, one per transaction id.

    A label that arrived later did not exist when this run is supposed to have happened;
    using it would leak the future into a backfilled model.
    """
    end = pd.Timestamp(window.interval_end)
    known = frame[frame["label_ts"].notna() & (frame["label_ts"] < end)]
    return known.drop_duplicates("transaction_id", keep="first").reset_index(drop=True)

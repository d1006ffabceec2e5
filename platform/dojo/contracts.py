"""The event contract: the transaction and label schemas, their validation, and topic names.

Why one module that everything depends on: the generator produces these events, the stream
processor validates them, the model server scores them and the monitor reads them back. Each
of those depends on this module and on none of the others. It imports nothing from `dojo`.

Why pydantic here: the stream processor must reject a bad event with a reason a person can act
on (it goes to the DLQ with that reason), and the generator's malformed-event knob must produce
events this same validator rejects, so both sides share one definition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
CHANNELS: tuple[str, ...] = ("pos", "ecom", "atm")
# An event stamped further ahead than this is treated as a clock or producer bug, not data.
MAX_FUTURE_SKEW = timedelta(minutes=5)

TRANSACTIONS_TOPIC = "transactions"
DLQ_TOPIC = "transactions.dlq"
PREDICTIONS_TOPIC = "predictions"
LABELS_TOPIC = "labels"

TRANSACTION_FIELDS: tuple[str, ...] = (
    "transaction_id", "ts", "user_id", "card_id", "merchant_id", "merchant_category",
    "amount", "currency", "country", "device_id", "channel",
)


class Transaction(BaseModel):
    """One card transaction, as produced to `transactions` (keyed by user_id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: str = Field(min_length=1)
    ts: datetime
    user_id: str = Field(min_length=1)
    card_id: str = Field(min_length=1)
    merchant_id: str = Field(min_length=1)
    merchant_category: str = Field(min_length=1)
    amount: float = Field(gt=0, lt=1_000_000)
    currency: Literal["USD", "EUR", "GBP"]
    country: str = Field(min_length=2, max_length=2)
    device_id: str = Field(min_length=1)
    channel: Literal["pos", "ecom", "atm"]

    @field_validator("ts")
    @classmethod
    def _not_in_far_future(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must carry a timezone")
        if value > datetime.now(UTC) + MAX_FUTURE_SKEW:
            raise ValueError(f"timestamp is more than {MAX_FUTURE_SKEW} in the future")
        return value


class Label(BaseModel):
    """The confirmed outcome of a transaction; arrives on `labels` hours or days later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: str = Field(min_length=1)
    is_fraud: bool
    label_ts: datetime
    fraud_pattern: str | None = None


class InvalidEvent(ValueError):
    """An event the platform refuses, with one reason string for the DLQ header."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validate_transaction(raw: bytes | str | dict) -> Transaction:
    """Parse and validate one event, raising InvalidEvent with a short, field-naming reason."""
    try:
        if isinstance(raw, dict):
            return Transaction.model_validate(raw)
        return Transaction.model_validate_json(raw)
    except ValidationError as error:
        problems = error.errors()
        if problems[0]["type"] == "json_invalid":
            raise InvalidEvent("not valid JSON") from None
        # The first problem leads (the DLQ metric's label is its field); the next ones follow,
        # because a renamed field shows up as two: the old name missing, the new one unknown.
        parts = [f"{'.'.join(str(p) for p in item['loc']) or 'event'}: {item['msg']}"
                 for item in problems[:3]]
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InvalidEvent("; ".join(parts) + more) from None

"""Turn raw messages from `predictions` and `labels` into window rows, or a reason why not.

Why a reason and not an exception: a message the monitor cannot use (not JSON, a field
missing, a score that is not a number) is counted by reason and logged, and the monitor goes
on with the next one. One bad producer must not blind the monitor to the good traffic.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dojo.contracts import Label
from dojo.monitoring.window import LabelRow, PredictionRow

REQUIRED = ("transaction_id", "scored_at", "features", "score", "model_version")


class Rejected(ValueError):
    """A message the monitor skips; ``reason`` is short and stable (a metric label)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _json(raw: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Rejected("not_json", "the message is not valid JSON") from None
    if not isinstance(value, dict):
        raise Rejected("not_an_object", f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_prediction(raw: bytes | str) -> PredictionRow:
    """One record of the model server's prediction log (dojo/serving/scoring.py)."""
    record = _json(raw)
    missing = [name for name in REQUIRED if record.get(name) in (None, "")]
    if missing:
        raise Rejected("missing_field", f"prediction without {', '.join(missing)}")
    if not isinstance(record["features"], dict):
        raise Rejected("bad_field", "features is not an object")
    score = record["score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or not (
            math.isfinite(score) and 0.0 <= score <= 1.0):
        raise Rejected("bad_field", f"score must be a number in [0, 1], got {score!r}")
    try:
        scored_at = datetime.fromisoformat(str(record["scored_at"])).timestamp()
    except ValueError:
        raise Rejected("bad_field", f"scored_at is not a timestamp: {record['scored_at']!r}") \
            from None
    return PredictionRow(
        transaction_id=str(record["transaction_id"]), request_id=str(record.get("request_id")),
        ts=str(record.get("ts")), scored_at=scored_at, variant=str(record.get("variant")),
        model_version=str(record["model_version"]), features=record["features"],
        score=float(score), decision=str(record.get("decision")),
        degraded=bool(record.get("degraded", False)))


def parse_label(raw: bytes | str) -> LabelRow:
    """One label, validated by the platform's own contract (dojo.contracts.Label)."""
    record = _json(raw)
    try:
        label = Label.model_validate(record)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "label"
        raise Rejected("bad_label", f"{where}: {first['msg']}") from None
    return LabelRow(label.transaction_id, label.is_fraud, label.label_ts.isoformat())

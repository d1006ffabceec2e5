"""Transactions for smoke tests and rollout traffic, from the platform's own generator.

Why the generator (not a hand-written file): the rows carry the fraud patterns the model was
trained on (card testing, account takeover, high amounts), with the same vocabulary of
merchants, countries and channels, so a model that breaks on a category or inverts its scores
shows it on these rows. A fixed seed makes the smoke rows the same in every deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dojo.contracts import TRANSACTION_FIELDS

SMOKE_SEED = 20_250_105
# Half frauds: a version that flags nothing (or everything) disagrees with a working one on
# about half the rows, far below the agreement floor.
SMOKE_FRAUD_RATE = 0.5


def _frame(count: int, seed: int, fraud_rate: float, users: int) -> Any:
    from dojo.synthetic.generator import generate_live

    start = datetime.now(UTC) - timedelta(seconds=120)
    return generate_live(count, seed, start=start, span_s=60.0, fraud_rate=fraud_rate,
                         users=users)


def _bodies(frame: Any, seed: int, prefix: str) -> list[dict[str, Any]]:
    rows = []
    for i, record in enumerate(frame[list(TRANSACTION_FIELDS)].to_dict("records")):
        record["ts"] = record["ts"].isoformat()
        record["transaction_id"] = f"{prefix}-{seed}-{i:05d}"
        rows.append(record)
    return rows


def transactions(count: int, seed: int, prefix: str, fraud_rate: float = 0.015,
                 users: int = 10_000) -> list[dict[str, Any]]:
    """``count`` request bodies (JSON-ready), stamped in the last two minutes."""
    return _bodies(_frame(count, seed, fraud_rate, users), seed, prefix)


@dataclass(frozen=True)
class KnownRows:
    """Request bodies and, by transaction id, whether the generator made each one a fraud."""

    rows: list[dict[str, Any]]
    labels: dict[str, bool]


def smoke_rows(count: int) -> KnownRows:
    """The smoke test's rows, under user ids no stream ever writes (``smoke-u…``).

    Why their own users: the server then finds no online row and scores each request from its
    own fields (the documented first-transaction defaults), so the same rows get the same input
    in every deploy, whatever the stack streamed before. With real users, the online features
    changed the champion's answers between two deploys, and a check that compares answers
    compared different inputs. The online read itself is checked by `/ready`, and live traffic
    by the rollout's canary (lab 14)."""
    frame = _frame(count, SMOKE_SEED, SMOKE_FRAUD_RATE, 10_000)
    frame["user_id"] = "smoke-" + frame["user_id"].astype(str)
    rows = _bodies(frame, SMOKE_SEED, "smoke")
    labels = {row["transaction_id"]: bool(fraud)
              for row, fraud in zip(rows, frame["is_fraud"], strict=True)}
    return KnownRows(rows, labels)

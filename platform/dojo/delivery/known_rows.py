"""Transactions for smoke tests and rollout traffic, from the platform's own generator.

Why the generator (not a hand-written file): the rows carry the fraud patterns the model was
trained on (card testing, account takeover, high amounts), with the same vocabulary of
merchants, countries and channels, so a model that breaks on a category or inverts its scores
shows it on these rows. A fixed seed makes the smoke rows the same in every deploy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dojo.contracts import TRANSACTION_FIELDS

SMOKE_SEED = 20_250_105
# Half frauds: a version that flags nothing (or everything) disagrees with a working one on
# about half the rows, far below the agreement floor.
SMOKE_FRAUD_RATE = 0.5


def transactions(count: int, seed: int, prefix: str, fraud_rate: float = 0.015,
                 users: int = 10_000) -> list[dict[str, Any]]:
    """``count`` request bodies (JSON-ready), stamped in the last two minutes."""
    from dojo.synthetic.generator import generate_live

    start = datetime.now(UTC) - timedelta(seconds=120)
    frame = generate_live(count, seed, start=start, span_s=60.0, fraud_rate=fraud_rate,
                          users=users)
    rows = []
    for i, record in enumerate(frame[list(TRANSACTION_FIELDS)].to_dict("records")):
        record["ts"] = record["ts"].isoformat()
        record["transaction_id"] = f"{prefix}-{seed}-{i:05d}"
        rows.append(record)
    return rows


def smoke_rows(count: int) -> list[dict[str, Any]]:
    return transactions(count, SMOKE_SEED, "smoke", fraud_rate=SMOKE_FRAUD_RATE)

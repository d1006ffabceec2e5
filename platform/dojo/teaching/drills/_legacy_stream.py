"""A forgotten deployment for the `training-serving-skew` drill: the stream job's old version.

Version 0 of the stream job computed the amount features in cents (the card network's unit);
the platform moved to units, the training data is in units, but one replica of v0 kept
running. Every few seconds it recomputes the recently active users from the offline store with
its old transform and pushes their rows to the same online store. Nothing fails: the model just
sees amounts a hundred times too large for those users. Run as
`python -m dojo.teaching.drills._legacy_stream --home DOJO_HOME`; it runs until killed.
"""

from __future__ import annotations

import argparse
import signal
import threading
import warnings
from datetime import UTC, datetime

import pandas as pd

from dojo.features.parity import recent_users
from dojo.features.spec import (
    CREATED_COLUMN,
    EVENT_COLUMNS,
    USER_ENTITY_KEY,
    USER_FEATURES,
    USER_PUSH_SOURCE,
)
from dojo.features.store import open_store, quiet_feast_warnings
from dojo.features.windows import compute_user_features
from dojo.ingestion.offline_store import read_transactions
from dojo.settings import get_settings

CENTS_FEATURES = ("amount_sum_1h", "amount_mean_1h", "amount_sum_24h", "amount_mean_24h")
USERS_PER_ROUND = 50


def v0_rows(events: pd.DataFrame, users: list[str]) -> pd.DataFrame:
    """The old transform: the same windows, amounts in cents."""
    rows = compute_user_features(events[events[USER_ENTITY_KEY].isin(users)])
    rows = rows.groupby(USER_ENTITY_KEY).tail(1).reset_index(drop=True)
    for name in CENTS_FEATURES:
        rows[name] = rows[name] * 100
    rows[CREATED_COLUMN] = pd.Timestamp(datetime.now(UTC))
    return rows[[USER_ENTITY_KEY, "event_timestamp", *USER_FEATURES, CREATED_COLUMN]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="DOJO_HOME of the stack (identifies it)")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between rounds")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    quiet_feast_warnings()
    settings = get_settings()
    store = open_store(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        events = read_transactions(settings.offline_dir, columns=EVENT_COLUMNS)
        if not events.empty:
            rows = v0_rows(events, recent_users(events, USERS_PER_ROUND))
            store.push(USER_PUSH_SOURCE, rows)
        stop.wait(args.every)


if __name__ == "__main__":
    main()

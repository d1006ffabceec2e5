"""Per-user windowed features on event time: the one transform used offline and online.

Why one function for both paths: training rows come from the batch build over the offline
store, serving rows from the stream processor. Both call `user_feature_rows` on a user's events
sorted by (ts, transaction_id), so the same events always give the same numbers (training/
serving parity by construction, not by two implementations kept in sync).

Why `math.fsum`: the stream processor sees a pruned buffer while the batch build sees the full
history. An exactly rounded sum does not depend on where the summation starts, so the online
and offline values are equal to the last bit, not only approximately.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dojo.features.spec import (
    CREATED_COLUMN,
    EVENT_COLUMNS,
    NO_PREVIOUS_TXN,
    TIMESTAMP_COLUMN,
    USER_COUNT_FEATURES,
    USER_ENTITY_KEY,
    USER_FEATURES,
    USER_FLOAT_FEATURES,
    WINDOW_1H,
    WINDOW_10M,
    WINDOW_24H,
)

NS = 1_000_000_000


def user_feature_rows(
    ts_ns: Sequence[int],
    amount: Sequence[float],
    merchant: Sequence[str],
    country: Sequence[str],
    device: Sequence[str],
    *,
    first: int = 0,
) -> dict[str, list[float | int]]:
    """Features after each event of ONE user; inputs sorted by (ts, transaction_id).

    Windows are right-closed, (t - W, t]: an event exactly W old has left the window. The row of
    event i counts events 0..i only, so two events with the same timestamp get different rows
    and the later one (by transaction_id) holds the complete state at that instant.

    Only the rows of events ``first``..n-1 are returned (row k of the result is event
    first + k). Why: the stream processor needs just the newest row of a user's buffer, and the
    exact sums (`math.fsum` over each window) are most of the cost of a row. The events before
    ``first`` are still walked, through this same loop, so the rows returned are the very rows
    a full call gives.
    """
    n = len(ts_ns)
    first = max(0, min(first, n))
    out: dict[str, list[float | int]] = {name: [0] * (n - first) for name in USER_FEATURES}
    w10, w1h, w24 = WINDOW_10M * NS, WINDOW_1H * NS, WINDOW_24H * NS
    left10 = left1h = left24 = 0
    merchants: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    seen_devices: set[str] = set()
    for i in range(n):
        t = ts_ns[i]
        while ts_ns[left10] <= t - w10:
            left10 += 1
        while ts_ns[left1h] <= t - w1h:
            left1h += 1
        while ts_ns[left24] <= t - w24:
            _discard(merchants, merchant[left24])
            _discard(countries, country[left24])
            left24 += 1
        merchants[merchant[i]] += 1
        countries[country[i]] += 1
        if i >= first:
            k = i - first
            count1h, count24 = i - left1h + 1, i - left24 + 1
            sum1h = math.fsum(amount[left1h : i + 1])
            sum24 = math.fsum(amount[left24 : i + 1])
            out["txn_count_10m"][k] = i - left10 + 1
            out["txn_count_1h"][k] = count1h
            out["txn_count_24h"][k] = count24
            out["amount_sum_1h"][k] = sum1h
            out["amount_mean_1h"][k] = sum1h / count1h
            out["amount_sum_24h"][k] = sum24
            out["amount_mean_24h"][k] = sum24 / count24
            out["distinct_merchants_24h"][k] = len(merchants)
            out["distinct_countries_24h"][k] = len(countries)
            out["seconds_since_prev_txn"][k] = (t - ts_ns[i - 1]) / NS if i else NO_PREVIOUS_TXN
            out["is_new_device"][k] = 0 if device[i] in seen_devices else 1
        seen_devices.add(device[i])
    return out


def _discard(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] == 0:
        del counter[key]


def normalise_events(events: pd.DataFrame) -> pd.DataFrame:
    """Keep the transform's columns, UTC timestamps, one row per transaction_id, sorted.

    Dropping duplicate transaction_ids here is what makes every reader of the offline store
    idempotent: a batch the stream processor wrote twice (crash before commit, then replay)
    counts once.
    """
    frame = events.loc[:, list(EVENT_COLUMNS)].copy()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
    frame["amount"] = frame["amount"].astype("float64")
    frame = frame.drop_duplicates("transaction_id", keep="first")
    return frame.sort_values(["user_id", "ts", "transaction_id"], kind="stable").reset_index(
        drop=True
    )


def compute_user_features(
    events: pd.DataFrame, *, one_row_per_instant: bool = True
) -> pd.DataFrame:
    """Feature rows for every event of every user (the batch path; the stream reuses the core).

    Returns `user_id, event_timestamp, <features>`. With ``one_row_per_instant`` only the last
    row of each (user, timestamp) is kept: it is the complete state at that instant, and a
    point-in-time join then never has to break a tie between two rows of the same timestamp.
    """
    frame = normalise_events(events)
    columns: dict[str, list] = {name: [] for name in USER_FEATURES}
    if len(frame):
        ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        users = frame[USER_ENTITY_KEY].to_numpy()
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        ends = np.r_[starts[1:], len(frame)]
        amount = frame["amount"].tolist()
        merchant = frame["merchant_id"].tolist()
        country = frame["country"].tolist()
        device = frame["device_id"].tolist()
        ts_list = ts_ns.tolist()
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            rows = user_feature_rows(
                ts_list[start:end], amount[start:end], merchant[start:end],
                country[start:end], device[start:end],
            )
            for name in USER_FEATURES:
                columns[name].extend(rows[name])
    result = pd.DataFrame(
        {USER_ENTITY_KEY: frame[USER_ENTITY_KEY].to_numpy(), TIMESTAMP_COLUMN: frame["ts"]}
    )
    for name in USER_COUNT_FEATURES:
        result[name] = np.asarray(columns[name], dtype=np.int64)
    for name in USER_FLOAT_FEATURES:
        result[name] = np.asarray(columns[name], dtype=np.float64)
    if one_row_per_instant:
        result = result.drop_duplicates([USER_ENTITY_KEY, TIMESTAMP_COLUMN], keep="last")
    return result.reset_index(drop=True)


def with_created(rows: pd.DataFrame, created: pd.Timestamp) -> pd.DataFrame:
    """Add Feast's `created` column (when the row was computed), used to break write ties."""
    rows = rows.copy()
    rows[CREATED_COLUMN] = created
    return rows

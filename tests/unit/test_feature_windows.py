"""Window math on event time, and the online state's lateness, idempotency and pruning.

The reference here is a brute-force definition written independently of the implementation:
for event i, look at every earlier-or-equal event j and test the window condition directly.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from dojo.contracts import Transaction
from dojo.features.spec import NO_PREVIOUS_TXN, USER_FEATURES
from dojo.features.state import FeatureState, Outcome, row_of
from dojo.features.windows import NS, compute_user_features, user_feature_rows

BASE = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def txn(i: int | str, seconds: float, user: str = "u1", *, merchant: str = "m1",
        country: str = "US", device: str = "d1", amount: float = 10.0) -> Transaction:
    return Transaction(
        transaction_id=f"tx{i:05d}" if isinstance(i, int) else f"tx{i}",
        ts=BASE + timedelta(seconds=seconds), user_id=user,
        card_id="c1", merchant_id=merchant, merchant_category="grocery", amount=amount,
        currency="USD", country=country, device_id=device, channel="pos",
    )


def frame(events: list[Transaction]) -> pd.DataFrame:
    return pd.DataFrame([e.model_dump() for e in events])


def reference(events: list[Transaction]) -> dict[str, float]:
    """Brute-force features of the LAST event in (ts, id) order."""
    ordered = sorted(events, key=lambda e: (e.ts, e.transaction_id))
    last = ordered[-1]

    def window(seconds: int) -> list[Transaction]:
        return [e for e in ordered if e.ts > last.ts - timedelta(seconds=seconds)]

    h1, h24 = window(3600), window(86400)
    prev = ordered[-2] if len(ordered) > 1 else None
    return {
        "txn_count_10m": len(window(600)),
        "txn_count_1h": len(h1),
        "txn_count_24h": len(h24),
        "amount_sum_1h": sum(e.amount for e in h1),
        "amount_mean_1h": sum(e.amount for e in h1) / len(h1),
        "amount_sum_24h": sum(e.amount for e in h24),
        "amount_mean_24h": sum(e.amount for e in h24) / len(h24),
        "distinct_merchants_24h": len({e.merchant_id for e in h24}),
        "distinct_countries_24h": len({e.country for e in h24}),
        "seconds_since_prev_txn": (last.ts - prev.ts).total_seconds() if prev else -1.0,
        "is_new_device": int(last.device_id not in {e.device_id for e in ordered[:-1]}),
    }


def test_windows_are_right_closed_on_event_time() -> None:
    # 0 s, 599 s, 600 s: at t=600 the event at 0 is exactly 10 min old and has left (t-W, t].
    ts = [0, 599 * NS, 600 * NS]
    rows = user_feature_rows(ts, [1.0, 2.0, 4.0], ["a", "b", "a"], ["US"] * 3, ["d", "d", "e"])
    assert rows["txn_count_10m"] == [1, 2, 2]
    assert rows["txn_count_1h"] == [1, 2, 3]
    assert rows["amount_sum_1h"] == [1.0, 3.0, 7.0]
    assert rows["distinct_merchants_24h"] == [1, 2, 2]
    assert rows["seconds_since_prev_txn"] == [NO_PREVIOUS_TXN, 599.0, 1.0]
    assert rows["is_new_device"] == [1, 0, 1]


def test_24h_window_drops_old_merchants_and_countries() -> None:
    day = 86400
    events = [txn(1, 0, merchant="a", country="FR"), txn(2, 10, merchant="b"),
              txn(3, day, merchant="b"), txn(4, day + 11, merchant="c")]
    rows = compute_user_features(frame(events))
    assert rows["txn_count_24h"].tolist() == [1, 2, 2, 2]  # tx1 leaves at day, tx2 at day+10
    assert rows["distinct_merchants_24h"].tolist() == [1, 2, 1, 2]
    assert rows["distinct_countries_24h"].tolist() == [1, 2, 1, 1]


@pytest.mark.parametrize("seed", range(5))
def test_random_streams_match_the_brute_force_definition(seed: int) -> None:
    rng = random.Random(seed)
    events, t = [], 0.0
    for i in range(120):
        t += rng.choice([0.0, 1.0, 30.0, 400.0, 3000.0, 20000.0])  # ties and long gaps
        events.append(txn(i, t, merchant=rng.choice("abcd"), country=rng.choice(["US", "GB"]),
                          device=rng.choice(["d1", "d2", "d3"]), amount=rng.uniform(1, 500)))
    events.sort(key=lambda e: (e.ts, e.transaction_id))  # the order rows come back in
    rows = compute_user_features(frame(events), one_row_per_instant=False)
    for i in range(len(events)):
        expected = reference(events[: i + 1])
        got = rows.iloc[i]
        for name in USER_FEATURES:
            assert got[name] == pytest.approx(expected[name], rel=1e-12), (i, name)


@pytest.mark.parametrize("first", [0, 1, 57, 119, 120])
def test_rows_from_first_are_the_full_calls_rows(first: int) -> None:
    """The stream asks for the newest row only (`first`); it must be the full call's row."""
    rng = random.Random(first)
    ts, t = [], 0
    for _ in range(120):
        t += rng.choice([0, 1, 400, 3000, 20000]) * NS
        ts.append(t)
    columns = (ts, [rng.uniform(1, 500) for _ in ts], [rng.choice("abcd") for _ in ts],
               [rng.choice(["US", "GB"]) for _ in ts], [rng.choice(["d1", "d2"]) for _ in ts])
    full = user_feature_rows(*columns)
    tail = user_feature_rows(*columns, first=first)
    assert tail == {name: values[first:] for name, values in full.items()}


def test_one_row_per_instant_keeps_the_complete_state() -> None:
    events = [txn("a", 0), txn("b", 5), txn("c", 5)]
    rows = compute_user_features(frame(events))
    assert len(rows) == 2
    assert rows["txn_count_1h"].tolist() == [1, 3]


def test_duplicates_in_the_offline_store_count_once() -> None:
    events = [txn(1, 0), txn(2, 60), txn(2, 60)]
    rows = compute_user_features(frame(events))
    assert rows["txn_count_1h"].tolist() == [1, 2]


# --- online state ------------------------------------------------------------------------

def test_state_rejects_duplicates_and_events_beyond_the_lateness() -> None:
    state = FeatureState(allowed_lateness_s=600)
    assert state.apply(txn(1, 1000)) is Outcome.APPLIED
    assert state.apply(txn(1, 1000)) is Outcome.DUPLICATE
    assert state.apply(txn(2, 500)) is Outcome.APPLIED  # 500 s late: inside 600 s
    late = txn(3, 399)
    assert state.apply(late) is Outcome.LATE  # 601 s late
    assert state.lateness_s(late) == pytest.approx(601)
    row = state.latest_rows({"u1"}).iloc[0]
    assert row["txn_count_10m"] == 2  # the late event landed inside the window
    assert row["seconds_since_prev_txn"] == 500.0


def test_late_event_within_lateness_gives_the_batch_result() -> None:
    events = [txn(1, 0), txn(2, 300), txn(3, 900, device="d2"), txn(4, 500, device="d2")]
    state = FeatureState(allowed_lateness_s=600)
    for event in events:
        state.apply(event)
    online = state.latest_rows({"u1"}).iloc[0]
    offline = compute_user_features(frame(events)).iloc[-1]
    for name in USER_FEATURES:
        assert online[name] == offline[name], name
    assert online["is_new_device"] == 0  # d2 was first used by the late event, before tx3


def test_pruned_state_equals_the_full_history() -> None:
    rng = random.Random(7)
    events, t = [], 0.0
    for i in range(400):
        t += rng.choice([5.0, 600.0, 7200.0, 40000.0])
        events.append(txn(i, t, user=rng.choice(["u1", "u2"]), merchant=rng.choice("abc"),
                          device=rng.choice(["d1", "d2", "d3", "d4"]), amount=rng.uniform(1, 99)))
    state = FeatureState(allowed_lateness_s=0)
    for event in events:
        assert state.apply(event) is Outcome.APPLIED
        state.latest_rows({event.user_id})  # prunes as the processor does after each batch
    assert state.buffered_events < len(events)
    online = state.latest_rows({"u1", "u2"}).set_index("user_id")
    offline = compute_user_features(frame(events)).groupby("user_id").tail(1).set_index("user_id")
    for name in USER_FEATURES:
        assert online[name].to_dict() == offline[name].to_dict(), name


def test_load_from_offline_store_resumes_with_the_same_numbers() -> None:
    rng = random.Random(3)
    events = [txn(i, i * 3000.0, user=rng.choice(["u1", "u2", "u3"]),
                  device=rng.choice(["d1", "d2"]), amount=rng.uniform(1, 50)) for i in range(300)]
    live = FeatureState(allowed_lateness_s=600)
    for event in events:
        live.apply(event)
    restored = FeatureState(allowed_lateness_s=600)
    restored.load(frame(events[:250]))
    for event in events[240:]:  # replay overlaps what was already stored
        restored.apply(event)
    users = {"u1", "u2", "u3"}
    pd.testing.assert_frame_equal(restored.latest_rows(users), live.latest_rows(users))


@pytest.mark.parametrize("ts", [
    datetime(2025, 1, 20, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2025, 1, 20, 13, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
])
def test_event_time_in_the_state_is_the_offline_stores_nanoseconds(ts: datetime) -> None:
    txn = Transaction(transaction_id="t1", ts=ts, user_id="u1", card_id="c1", merchant_id="m1",
                      merchant_category="grocery", amount=10.0, currency="EUR", country="DE",
                      device_id="d1", channel="pos")
    assert row_of(txn)[0] == pd.Timestamp(ts).tz_convert("UTC").value

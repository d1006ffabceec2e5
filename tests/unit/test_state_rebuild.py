"""The state rebuild reads the recent days plus a summary of the older ones and still gives the
full rebuild's state for every user, however long ago they were last seen; the compaction of
the days before the horizon changes no event a reader sees."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from dojo.contracts import Transaction
from dojo.features import state_rebuild
from dojo.features.spec import EVENT_COLUMNS, USER_FEATURES
from dojo.features.state import FeatureState, Outcome, state_rows
from dojo.features.state_rebuild import compact_closed_days, read_state_events
from dojo.features.windows import compute_user_features, normalise_events
from dojo.ingestion import offline_store
from dojo.ingestion.compaction import stream_files
from dojo.ingestion.offline_store import list_partitions, partition_dir, read_transactions
from dojo.ingestion.raw_sink import append_transactions, batch_writer_name
from dojo.settings import Settings, load_settings

LATENESS_S = 600.0
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def txn(tid: str, ts: datetime, user: str, device: str, *, merchant: str = "m1",
        country: str = "US", amount: float = 10.0) -> Transaction:
    return Transaction(transaction_id=tid, ts=ts, user_id=user, card_id="c1",
                       merchant_id=merchant, merchant_category="grocery", amount=amount,
                       currency="USD", country=country, device_id=device, channel="pos")


def history(seed: int = 11) -> list[Transaction]:
    """Six days of events of 30 users, plus two users whose past only the ghosts carry."""
    rng = random.Random(seed)
    events = [
        txn(f"h{i:05d}", BASE + timedelta(seconds=rng.uniform(0, 6 * 86400)),
            f"u{rng.randrange(30)}", f"d{rng.randrange(4)}", merchant=f"m{rng.randrange(9)}",
            country=rng.choice(["US", "DE", "FR"]), amount=round(rng.uniform(1, 500), 2))
        for i in range(3000)
    ]
    newest = max(e.ts for e in events)
    events += [  # seen on days 0-1 only: the live event reuses d1, so is_new_device must be 0
        txn("r1", BASE + timedelta(hours=10), "returning", "d1"),
        txn("r2", BASE + timedelta(days=1, hours=8), "returning", "d2"),
        # last seen just before the horizon (on the horizon's own day)
        txn("e1", BASE + timedelta(hours=30), "edge", "d9"),
        txn("e2", newest - timedelta(days=1, seconds=LATENESS_S + 1800), "edge", "d8"),
    ]
    return events


def write(settings: Settings, events: list[Transaction]) -> None:
    half = len(events) // 2  # two writers per day, as two stream batches would leave
    append_transactions(settings, events[:half])
    append_transactions(settings, events[half:])


def live_events(newest: datetime, seed: int = 5) -> list[Transaction]:
    """Events no earlier than the allowed lateness behind the store's newest event."""
    rng = random.Random(seed)
    start = newest - timedelta(seconds=LATENESS_S)
    events = [
        txn(f"l{i:04d}", start + timedelta(seconds=rng.uniform(0, 2 * LATENESS_S)),
            f"u{rng.randrange(30)}", f"d{rng.randrange(5)}", merchant=f"m{rng.randrange(9)}",
            amount=round(rng.uniform(1, 500), 2))
        for i in range(200)
    ]
    events += [txn("r3", newest + timedelta(seconds=60), "returning", "d1"),
               txn("e3", newest, "edge", "d9")]
    return events


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")


def full_state(settings: Settings) -> FeatureState:
    state = FeatureState(LATENESS_S)
    state.load(read_transactions(settings.offline_dir, columns=EVENT_COLUMNS))
    return state


def horizon_state(settings: Settings) -> FeatureState:
    state = FeatureState(LATENESS_S)
    state.load(read_state_events(settings.offline_dir, LATENESS_S).events)
    return state


def test_horizon_rebuild_gives_the_full_rebuilds_rows(settings: Settings) -> None:
    past = history()
    write(settings, past)
    newest = max(e.ts for e in past)
    full, partial = full_state(settings), horizon_state(settings)
    read = read_state_events(settings.offline_dir, LATENESS_S)
    # six days of history: the read holds the last two in full and a day per user before them
    assert len(read.events) < 0.6 * len(past)
    active = {u for u, b in full.users.items()
              if b.newest_ts >= pd.Timestamp(newest).value - LATENESS_S * 1e9}
    assert active
    assert partial.users.keys() == full.users.keys()
    for user in full.users:  # the very same buffers for every user, quiet ones included
        assert partial.users[user].rows == full.users[user].rows, user
        assert partial.users[user].ids == full.users[user].ids, user

    live = live_events(newest)
    outcomes = [(full.apply(e), partial.apply(e)) for e in live]
    assert all(a is b for a, b in outcomes)
    touched = {e.user_id for e in live} | active
    online = partial.latest_rows(touched)
    pd.testing.assert_frame_equal(online, full.latest_rows(touched))

    # ... and those rows are the batch build's over the whole history (training parity).
    applied = [e for e, (a, _) in zip(live, outcomes, strict=True) if a is Outcome.APPLIED]
    every = pd.DataFrame([e.model_dump() for e in past + applied])
    batch = compute_user_features(every).groupby("user_id").tail(1).set_index("user_id")
    returning = online.set_index("user_id").loc["returning"]
    assert returning["is_new_device"] == 0
    assert returning["seconds_since_prev_txn"] > 4 * 86400
    for name in USER_FEATURES:
        assert online.set_index("user_id")[name].to_dict() == batch.loc[sorted(touched),
                                                                       name].to_dict(), name


def test_events_older_than_the_horizon_are_read_once_then_only_their_summary(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    past = history()
    write(settings, past)
    cold = read_state_events(settings.offline_dir, LATENESS_S)
    horizon_day = cold.horizon.floor("D")
    days = sorted({e.ts.strftime("%Y-%m-%d") for e in past})
    assert cold.folded_days == tuple(d for d in days if d < horizon_day.strftime("%Y-%m-%d"))
    assert len(cold.folded_days) >= 3

    seen: list[pd.DataFrame] = []

    def spy(*args, **kwargs) -> pd.DataFrame:
        frame = read_transactions(*args, **kwargs)
        seen.append(frame)
        return frame

    monkeypatch.setattr(state_rebuild, "read_transactions", spy)
    warm = read_state_events(settings.offline_dir, LATENESS_S)
    assert warm.folded_days == ()
    read = pd.concat(seen)
    assert read["ts"].min() >= horizon_day  # nothing before the horizon's day was opened
    assert warm.recent_rows == sum(pd.Timestamp(e.ts) >= horizon_day for e in past)

    everything = read_transactions(settings.offline_dir, columns=EVENT_COLUMNS)
    old = everything[everything["ts"] < horizon_day]
    expected = state_rows(old)
    got = warm.events[warm.events["ts"] < horizon_day]
    assert sorted(got["transaction_id"]) == sorted(expected["transaction_id"])
    assert len(got) < len(old) / 2


def test_summarising_the_closed_days_scans_the_store_once_whatever_their_number(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every scan lists the whole store first: a scan per closed day made a cold rebuild of a
    # store with 98 days take 34 s, long enough for the labs waiting on the stream to time out.
    write(settings, history())
    scans: list[dict] = []

    def spy(*args, **kwargs) -> pd.DataFrame:
        scans.append(kwargs)
        return read_transactions(*args, **kwargs)

    monkeypatch.setattr(state_rebuild, "read_transactions", spy)
    cold = read_state_events(settings.offline_dir, LATENESS_S)
    assert len(cold.folded_days) >= 3
    folds = [k for k in scans if k.get("end") is not None]
    assert len(folds) == 1
    assert (folds[0]["start"], folds[0]["end"]) == (cold.folded_days[0], cold.folded_days[-1])


def test_a_replay_of_a_quiet_users_window_counts_as_duplicates(settings: Settings) -> None:
    """The stream judges duplicates per user: a user last seen long before everyone else must
    keep the events of its own last window, or a replay of them is applied again (lab 17)."""
    past = history()
    quiet_day = BASE + timedelta(days=1)  # days before the horizon's day
    window = [txn(f"q{i}", quiet_day + timedelta(minutes=20 * i), "quiet", f"d{i % 2}")
              for i in range(12)]
    write(settings, past + window)
    full, partial = full_state(settings), horizon_state(settings)
    assert partial.users["quiet"].rows == full.users["quiet"].rows
    assert [partial.apply(e) for e in window] == [Outcome.DUPLICATE] * len(window)
    assert [full.apply(e) for e in window] == [Outcome.DUPLICATE] * len(window)


def test_a_file_added_to_an_old_day_invalidates_the_summary(settings: Settings) -> None:
    past = history()
    write(settings, past)
    read_state_events(settings.offline_dir, LATENESS_S)
    # A late event of a quiet user lands in the first day, on a device it never used.
    append_transactions(settings, [txn("late1", BASE + timedelta(hours=1), "returning", "d7")])
    again = read_state_events(settings.offline_dir, LATENESS_S)
    assert again.folded_days[0] == BASE.strftime("%Y-%m-%d")
    assert "late1" in set(again.events["transaction_id"])
    state = FeatureState(LATENESS_S)
    state.load(again.events)
    state.apply(txn("r9", datetime.now(UTC), "returning", "d7"))
    assert state.latest_rows({"returning"}).iloc[0]["is_new_device"] == 0


def test_an_empty_store_rebuilds_an_empty_state(settings: Settings) -> None:
    read = read_state_events(settings.offline_dir, LATENESS_S)
    assert read.horizon is None and read.events.empty


def stream_batches(settings: Settings, events: list[Transaction], size: int = 400) -> None:
    """As the processor writes them: a file per batch and day, and one batch replayed with
    other boundaries (a crash before the commit), so some ids are in two files."""
    for start in range(0, len(events), size):
        append_transactions(settings, events[start:start + size])
    append_transactions(settings, events[size // 2: size + size // 2])


def test_compaction_merges_closed_days_without_changing_what_readers_see(
    settings: Settings,
) -> None:
    past = history()
    stream_batches(settings, past)
    before = read_transactions(settings.offline_dir)
    days = list_partitions(settings.offline_dir)
    files_before = {d: len(stream_files(settings.offline_dir, d)) for d in days}

    done = compact_closed_days(settings.offline_dir, LATENESS_S)

    horizon_day = read_state_events(settings.offline_dir, LATENESS_S).horizon.strftime("%Y-%m-%d")
    assert [r.day for r in done] == [d for d in days if d < horizon_day]
    for d in days:
        files = stream_files(settings.offline_dir, d)
        assert len(files) == (1 if d < horizon_day else files_before[d]), d
    after = read_transactions(settings.offline_dir)
    duplicated = after[after["transaction_id"].duplicated(keep=False)]
    assert len(after) < len(before)
    assert (duplicated["event_date"] >= horizon_day).all()  # left only in the open days
    pd.testing.assert_frame_equal(normalise_events(after), normalise_events(before))
    for result in done:  # named like a batch of its ids, so a rerun is a no-op
        merged = read_transactions(settings.offline_dir, start=result.day, end=result.day)
        assert result.output == f"{batch_writer_name(merged['transaction_id'].tolist())}.parquet"
        assert result.rows_out == len(merged) < result.rows_in
    assert compact_closed_days(settings.offline_dir, LATENESS_S) == []


def test_a_crash_between_merge_and_delete_is_harmless_and_cleaned_up(
    settings: Settings, tmp_path: Path,
) -> None:
    past = history()
    stream_batches(settings, past)
    before = normalise_events(read_transactions(settings.offline_dir))
    first_day = list_partitions(settings.offline_dir)[0]
    saved = {p.name: p.read_bytes() for p in stream_files(settings.offline_dir, first_day)}
    done = compact_closed_days(settings.offline_dir, LATENESS_S)
    for name, data in saved.items():  # as if the inputs had not been deleted yet
        (partition_dir(settings.offline_dir, first_day) / name).write_bytes(data)
    assert normalise_events(read_transactions(settings.offline_dir)).equals(before)
    again = compact_closed_days(settings.offline_dir, LATENESS_S)
    assert [r.day for r in again] == [first_day]
    assert again[0].output == done[0].output
    assert [p.name for p in stream_files(settings.offline_dir, first_day)] == [done[0].output]
    assert normalise_events(read_transactions(settings.offline_dir)).equals(before)


def test_compaction_keeps_an_up_to_date_ghost_summary_valid(settings: Settings) -> None:
    stream_batches(settings, history())
    first = read_state_events(settings.offline_dir, LATENESS_S)
    assert compact_closed_days(settings.offline_dir, LATENESS_S)
    warm = read_state_events(settings.offline_dir, LATENESS_S)
    assert warm.folded_days == ()  # nothing re-read: the summary was restamped
    pd.testing.assert_frame_equal(warm.events, first.events)


def test_a_read_lists_again_when_a_compaction_removed_a_file_under_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream_batches(settings, history())
    expected = normalise_events(read_transactions(settings.offline_dir))
    listings: list[int] = []
    real = offline_store.ds.dataset

    def listed_then_compacted(*args, **kwargs):
        dataset = real(*args, **kwargs)
        listings.append(1)
        if len(listings) == 1:
            compact_closed_days(settings.offline_dir, LATENESS_S)
        return dataset

    monkeypatch.setattr(offline_store.ds, "dataset", listed_then_compacted)
    got = read_transactions(settings.offline_dir)
    monkeypatch.undo()
    assert len(listings) > 2  # the compaction's own reads, then the retry
    pd.testing.assert_frame_equal(normalise_events(got), expected)


def test_features_compact_command_reports_each_day(isolated_env: Settings) -> None:
    from typer.testing import CliRunner

    from dojo.cli.features import app

    stream_batches(isolated_env, history())
    shown = CliRunner().invoke(app, ["compact"])
    assert shown.exit_code == 0, shown.output
    first_day = list_partitions(isolated_env.offline_dir)[0]
    assert f"{first_day}: " in shown.output and "compacted " in shown.output
    assert len(stream_files(isolated_env.offline_dir, first_day)) == 1
    again = CliRunner().invoke(app, ["compact"])
    assert "compacted 0 day(s)" in again.output

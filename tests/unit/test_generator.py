"""The synthetic transaction generator: determinism, schema, fraud patterns, drift knobs,
malformed events, the offline store and the `dojo generate` commands."""

from __future__ import annotations

import socket
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dojo.cli import generate as generate_cli
from dojo.contracts import TRANSACTION_FIELDS, InvalidEvent, validate_transaction
from dojo.ingestion.offline_store import (
    list_partitions,
    partition_dir,
    read_transactions,
    remove_writer_files,
    write_transactions,
)
from dojo.runtime import kafka_admin as topics_module
from dojo.synthetic import producer as producer_module
from dojo.synthetic.drift import NEW_CATEGORIES, DriftConfig
from dojo.synthetic.generator import (
    FRAUD_PATTERNS,
    HistoryConfig,
    generate_history,
    generate_live,
)
from dojo.synthetic.producer import (
    MALFORMED_KINDS,
    StreamStats,
    encode_event,
    plan_events,
    stream_events,
)

START = date(2025, 3, 1)
EXTRA_COLUMNS = ("is_fraud", "fraud_pattern", "label_ts", "event_date")


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    """200k rows: enough for stable rates; generated once for the module (about 0.5 s)."""
    return generate_history(rows=200_000, days=14, start_date=START, seed=7)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DOJO_"):
            monkeypatch.delenv(key)


# --- determinism -----------------------------------------------------------------------------

def test_same_seed_and_arguments_give_a_byte_identical_frame() -> None:
    first = generate_history(rows=30_000, days=5, start_date=START, seed=3)
    second = generate_history(HistoryConfig(rows=30_000, days=5, start_date=START, seed=3))
    pd.testing.assert_frame_equal(first, second)
    hashes = [pd.util.hash_pandas_object(f, index=True).to_numpy() for f in (first, second)]
    assert np.array_equal(*hashes)


def test_different_seed_gives_different_transactions() -> None:
    a = generate_history(rows=20_000, days=5, start_date=START, seed=3)
    b = generate_history(rows=20_000, days=5, start_date=START, seed=4)
    assert not set(a["transaction_id"]) & set(b["transaction_id"])
    assert not np.array_equal(a["amount"].to_numpy(), b["amount"].to_numpy())


def test_live_events_are_deterministic_and_share_the_history_population() -> None:
    when = datetime(2025, 3, 2, 12, tzinfo=UTC)
    one = generate_live(2_000, seed=9, start=when)
    two = generate_live(2_000, seed=9, start=when)
    pd.testing.assert_frame_equal(one, two)
    history = generate_history(rows=50_000, days=5, start_date=START, seed=9)
    assert not set(one["transaction_id"]) & set(history["transaction_id"])
    # A user's ordinary spending happens at home in both: same world, same home countries.
    home = history[~history.is_fraud].groupby("user_id")["country"].agg(lambda s: s.mode()[0])
    live = one[~one.is_fraud & one.user_id.isin(home.index)]
    at_home = (live["country"].to_numpy() == home.loc[live["user_id"]].to_numpy()).mean()
    assert at_home > 0.9


# --- schema ----------------------------------------------------------------------------------

def test_schema_and_dtypes(big: pd.DataFrame) -> None:
    assert tuple(big.columns) == (*TRANSACTION_FIELDS, *EXTRA_COLUMNS)
    assert len(big) == 200_000
    assert str(big["ts"].dtype) == "datetime64[ns, UTC]"
    assert str(big["label_ts"].dtype) == "datetime64[ns, UTC]"
    assert big["amount"].dtype == np.float64
    assert big["is_fraud"].dtype == np.bool_
    for name in ("transaction_id", "user_id", "card_id", "merchant_id", "merchant_category",
                 "currency", "country", "device_id", "channel", "event_date"):
        assert big[name].map(type).eq(str).all(), name
    assert big["transaction_id"].is_unique
    assert big["ts"].is_monotonic_increasing
    window = pd.Timestamp(START, tz="UTC")
    assert big["ts"].min() >= window and big["ts"].max() < window + pd.Timedelta(days=14)
    assert (big["event_date"] == big["ts"].dt.strftime("%Y-%m-%d")).all()
    delay = big["label_ts"] - big["ts"]
    assert delay.min() >= pd.Timedelta(hours=1) and delay.max() <= pd.Timedelta(days=10)
    assert big["fraud_pattern"].isna().eq(~big["is_fraud"]).all()


def test_every_generated_row_passes_the_stream_validator_as_the_bytes_it_receives() -> None:
    """What the processor validates is the producer's JSON, not the generator's dicts."""
    frame = generate_history(rows=4_000, days=3, start_date=START, seed=5, fraud_rate=0.2)
    events = plan_events(frame, 0.0, seed=5)
    assert len(events) == len(frame)
    for event, (_, row) in zip(events, frame.iterrows(), strict=True):
        payload = encode_event(event, row["ts"].to_pydatetime())
        assert isinstance(payload, bytes)
        parsed = validate_transaction(payload)  # raises InvalidEvent on the first bad event
        assert parsed.model_dump() == {**{f: row[f] for f in TRANSACTION_FIELDS},
                                       "ts": row["ts"].to_pydatetime()}
        assert event.key == parsed.user_id.encode()


# --- fraud -----------------------------------------------------------------------------------

def test_fraud_rate_is_realistic_and_tunable(big: pd.DataFrame) -> None:
    assert 0.005 <= big["is_fraud"].mean() <= 0.03
    more = generate_history(rows=50_000, days=5, start_date=START, seed=7, fraud_rate=0.05)
    assert more["is_fraud"].mean() == pytest.approx(0.05, abs=0.002)
    none = generate_history(rows=5_000, days=5, start_date=START, seed=7, fraud_rate=0.0)
    assert not none["is_fraud"].any()


def test_each_fraud_pattern_is_present(big: pd.DataFrame) -> None:
    counts = big["fraud_pattern"].value_counts()
    assert set(counts.index) == set(FRAUD_PATTERNS)
    assert (counts > 300).all()


def _legit_profile(frame: pd.DataFrame) -> pd.DataFrame:
    legit = frame[~frame["is_fraud"]]
    return legit.groupby("user_id").agg(
        home=("country", lambda s: s.mode()[0]), median_amount=("amount", "median"))


def test_card_testing_is_bursts_of_small_amounts_on_one_card(big: pd.DataFrame) -> None:
    rows = big[big["fraud_pattern"] == "card_testing"].sort_values(["card_id", "ts"])
    assert rows["amount"].between(0.5, 5.0).all()
    assert (rows["channel"] == "ecom").all()
    per_card = rows.groupby("card_id").size()
    assert per_card.median() >= 3
    gaps = rows.groupby("card_id")["ts"].diff().dropna()
    assert gaps.median() < pd.Timedelta(minutes=2)
    known_devices = set(big.loc[~big["is_fraud"], "device_id"])
    assert not set(rows["device_id"]) & known_devices
    known_pairs = set(zip(big.loc[~big.is_fraud, "card_id"], big.loc[~big.is_fraud, "merchant_id"],
                          strict=True))
    new_merchant = [pair not in known_pairs
                    for pair in zip(rows["card_id"], rows["merchant_id"], strict=True)]
    assert np.mean(new_merchant) > 0.95


def test_account_takeover_uses_a_new_device_and_country_then_high_amounts(
    big: pd.DataFrame,
) -> None:
    profile = _legit_profile(big)
    rows = big[big["fraud_pattern"] == "account_takeover"]
    rows = rows[rows["user_id"].isin(profile.index)]
    own_devices = set(zip(big.loc[~big.is_fraud, "user_id"], big.loc[~big.is_fraud, "device_id"],
                          strict=True))
    assert not any(pair in own_devices
                   for pair in zip(rows["user_id"], rows["device_id"], strict=True))
    assert (rows["country"].to_numpy() != profile.loc[rows["user_id"], "home"].to_numpy()).all()
    ratio = rows["amount"].to_numpy() / profile.loc[rows["user_id"], "median_amount"].to_numpy()
    assert np.median(ratio) > 4


def test_high_amount_outliers_are_many_times_the_users_level(big: pd.DataFrame) -> None:
    profile = _legit_profile(big)
    rows = big[big["fraud_pattern"] == "high_amount"]
    rows = rows[rows["user_id"].isin(profile.index)]
    ratio = rows["amount"].to_numpy() / profile.loc[rows["user_id"], "median_amount"].to_numpy()
    assert np.median(ratio) > 10
    assert (rows["country"].to_numpy() == profile.loc[rows["user_id"], "home"].to_numpy()).mean(
    ) > 0.9


# --- drift -----------------------------------------------------------------------------------

def _drifted(**knobs: object) -> pd.DataFrame:
    return generate_history(rows=60_000, days=10, start_date=START, seed=11,
                            drift=DriftConfig(**knobs))


def test_amount_shift_scales_amounts_and_nothing_else() -> None:
    clean, shifted = _drifted(), _drifted(amount_shift=2.0)
    assert shifted["amount"].mean() / clean["amount"].mean() == pytest.approx(2.0, rel=0.02)
    pd.testing.assert_frame_equal(clean.drop(columns="amount"), shifted.drop(columns="amount"))


def test_new_categories_appear_only_with_the_knob() -> None:
    clean, drifted = _drifted(), _drifted(new_categories=2)
    new = list(NEW_CATEGORIES)[:2]
    assert not clean["merchant_category"].isin(list(NEW_CATEGORIES)).any()
    share = drifted["merchant_category"].isin(new).mean()
    assert share == pytest.approx(0.2, abs=0.02)
    assert set(new) <= set(drifted["merchant_category"])
    assert not drifted["merchant_category"].isin(list(NEW_CATEGORIES)[2:]).any()


def test_concept_drift_moves_fraud_to_atm_cash_outs_at_home() -> None:
    clean, drifted = _drifted(), _drifted(concept_drift=True)
    for frame in (clean, drifted):
        validate_transaction(frame.iloc[-1][list(TRANSACTION_FIELDS)].to_dict())
    fraud_atm = [f.loc[f["is_fraud"], "channel"].eq("atm").mean() for f in (clean, drifted)]
    assert fraud_atm[0] < 0.05 < 0.4 < fraud_atm[1]
    legit_atm = [f.loc[~f["is_fraud"], "channel"].eq("atm").mean() for f in (clean, drifted)]
    assert legit_atm[0] == legit_atm[1]  # P(x) for ordinary spending did not move
    ato = drifted[drifted["fraud_pattern"] == "account_takeover"]
    assert (ato["merchant_category"] == "cash_withdrawal").all()


def test_drift_start_leaves_earlier_days_untouched() -> None:
    start = datetime(2025, 3, 6, tzinfo=UTC)
    clean = _drifted()
    drifted = _drifted(amount_shift=3.0, new_categories=1, concept_drift=True, start=start)
    before = clean["ts"] < start
    pd.testing.assert_frame_equal(clean[before], drifted[before])
    after = ~before
    ratio = drifted.loc[after, "amount"].mean() / clean.loc[after, "amount"].mean()
    assert ratio > 2.5


# --- malformed events ------------------------------------------------------------------------

@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.37, 1.0])
def test_malformed_events_are_all_rejected_and_counted(fraction: float) -> None:
    frame = generate_live(500, seed=2)
    events = plan_events(frame, fraction, seed=2)
    now = datetime.now(UTC)
    bad = [e for e in events if e.malformed]
    assert len(bad) == round(500 * fraction)
    for event in events:
        payload = encode_event(event, now)
        if event.malformed is None:
            parsed = validate_transaction(payload)
            assert event.key == parsed.user_id.encode()
            assert parsed.ts == now
            continue
        with pytest.raises(InvalidEvent) as caught:
            validate_transaction(payload)
        assert MALFORMED_KINDS[event.malformed] in caught.value.reason
    if len(bad) >= len(MALFORMED_KINDS):
        assert {e.malformed for e in bad} == set(MALFORMED_KINDS)


def test_malformed_fraction_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="malformed_fraction"):
        plan_events(generate_live(10, seed=1), 1.5, seed=1)


# --- the send schedule (a recording producer: the schedule is ours, not Kafka's) --------------

class _Recorder:
    """Stands in for KafkaProducer: records (time, topic, key, value) of every send."""

    class _Future:
        def add_callback(self, fn: object) -> _Recorder._Future:
            return self

        def add_errback(self, fn: object) -> _Recorder._Future:
            return self

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> _Recorder._Future:
        self.sent.append((time.monotonic(), topic, key, value))
        return self._Future()

    def flush(self, timeout: float | None = None) -> None:
        return None


def test_stream_honours_the_rate_and_sends_labels_after_the_delay() -> None:
    events = plan_events(generate_live(40, seed=3), 0.25, seed=3)
    recorder = _Recorder()
    started = time.monotonic()
    stats = stream_events(recorder, events, rate=100.0, label_delay_s=0.3)  # type: ignore[arg-type]
    tx = [s for s in recorder.sent if s[1] == "transactions"]
    labels = [s for s in recorder.sent if s[1] == "labels"]
    assert (stats.sent, stats.malformed, stats.labels) == (40, 10, 30)
    assert len(tx) == 40 and len(labels) == 30
    assert tx[-1][0] - started >= 39 / 100.0 - 0.01  # not faster than the rate
    assert stats.elapsed_s >= stats.events_s + 0.25  # the last label waited for its delay
    sent_at = {validate_transaction(v).transaction_id: t for t, _, _, v in tx if _valid(v)}
    assert len(sent_at) == 30
    for t, _, key, _ in labels:
        assert t - sent_at[key.decode()] >= 0.29


def _valid(payload: bytes) -> bool:
    try:
        validate_transaction(payload)
    except InvalidEvent:
        return False
    return True


# --- offline store ---------------------------------------------------------------------------

def test_offline_store_round_trip_and_idempotent_rewrite(tmp_path: Path) -> None:
    frame = generate_history(rows=20_000, days=4, start_date=START, seed=1)
    result = write_transactions(frame, tmp_path)
    assert result.partitions == ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04")
    assert list_partitions(tmp_path) == list(result.partitions)
    pd.testing.assert_frame_equal(read_transactions(tmp_path), frame)

    other = partition_dir(tmp_path, "2025-03-02") / "stream-0001.parquet"
    frame[frame["event_date"] == "2025-03-02"].head(5).drop(columns="event_date").to_parquet(other)
    write_transactions(frame, tmp_path)  # same data again: replaces, does not add
    back = read_transactions(tmp_path)
    assert len(back) == len(frame) + 5  # only the other writer's 5 rows are extra
    assert other.exists()
    files = sorted(p.name for p in (tmp_path / "transactions").rglob("*.parquet"))
    assert files.count("history.parquet") == 4 and not list(tmp_path.rglob("*.tmp"))

    days = read_transactions(tmp_path, start="2025-03-03", end=date(2025, 3, 4))
    assert set(days["event_date"]) == {"2025-03-03", "2025-03-04"}
    assert read_transactions(tmp_path, columns=["amount"]).columns.tolist() == ["amount"]
    assert remove_writer_files(tmp_path) == 4
    assert list_partitions(tmp_path) == ["2025-03-02"]  # the other writer's day remains


def test_reading_a_missing_store_gives_an_empty_frame_with_the_schema(tmp_path: Path) -> None:
    empty = read_transactions(tmp_path)
    assert empty.empty and tuple(empty.columns) == (*TRANSACTION_FIELDS, *EXTRA_COLUMNS)


# --- the CLI ---------------------------------------------------------------------------------

def _run(args: list[str], home: Path, **env: str) -> object:
    return CliRunner().invoke(generate_cli.app, args, env={"DOJO_HOME": str(home), **env})


def test_cli_history_writes_partitions_and_rerun_replaces_them(tmp_path: Path) -> None:
    args = ["history", "--rows", "5000", "--days", "3", "--start-date", "2025-03-01",
            "--seed", "5", "--amount-shift", "1.5", "--new-categories", "1"]
    first = _run(args, tmp_path)
    assert first.exit_code == 0, first.output
    offline = tmp_path / "offline"
    assert "5,000" in first.output and str(offline / "transactions") in first.output
    frame = read_transactions(offline)
    assert len(frame) == 5000 and list_partitions(offline) == [
        "2025-03-01", "2025-03-02", "2025-03-03"]
    assert frame["merchant_category"].isin(list(NEW_CATEGORIES)).any()
    again = _run(args, tmp_path)
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(read_transactions(offline), frame)


def test_cli_history_default_window_ends_yesterday(tmp_path: Path) -> None:
    result = _run(["history", "--rows", "500", "--days", "2"], tmp_path)
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).date()
    assert list_partitions(tmp_path / "offline") == [
        str(today - timedelta(days=2)), str(today - timedelta(days=1))]


@pytest.mark.parametrize(("args", "needle"), [
    (["history", "--rows", "-5"], "--rows"),
    (["history", "--fraud-rate", "0.9"], "--fraud-rate"),
    (["history", "--start-date", "2025-13-01"], "--start-date"),
    (["history", "--start-date", "2999-01-01"], "reaches past today"),
    (["stream", "--malformed-fraction", "2"], "--malformed-fraction"),
    (["stream", "--count", "0"], "--count"),
])
def test_cli_refuses_bad_input_with_a_message(tmp_path: Path, args: list[str],
                                              needle: str) -> None:
    result = _run(args, tmp_path)
    assert result.exit_code != 0
    assert needle in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "offline").exists()


def test_cli_stream_names_the_broker_when_it_is_down(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"127.0.0.1:{port}"
    started = time.monotonic()
    result = _run(["stream", "--count", "5", "--connect-timeout-s", "1"], tmp_path,
                  DOJO_KAFKA_BOOTSTRAP=address)
    assert result.exit_code == 1
    assert address in result.output and "Traceback" not in result.output
    assert time.monotonic() - started < 15


class _FakeProducer:
    def close(self, timeout: float | None = None) -> None:
        pass


def test_cli_stream_id_prefix_gives_the_events_customers_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab streams under its own prefix: every id on the wire carries it, nothing else moves."""
    sent: list[bytes] = []

    def fake_stream(producer: object, events: list, **options: object) -> StreamStats:
        now = datetime.now(UTC)
        sent.extend(encode_event(event, now) for event in events)
        return StreamStats(sent=len(events))

    monkeypatch.setattr(producer_module, "connect_producer", lambda *a, **k: _FakeProducer())
    monkeypatch.setattr(producer_module, "stream_events", fake_stream)
    monkeypatch.setattr(topics_module, "ensure_topics", lambda settings: None)
    args = ["stream", "--count", "50", "--seed", "3", "--rate", "0"]
    plain = _run(args, tmp_path)
    mine = _run([*args, "--id-prefix", "lab99-"], tmp_path)
    assert plain.exit_code == 0 and mine.exit_code == 0, plain.output + mine.output
    plain_events = [validate_transaction(raw) for raw in sent[:50]]
    lab_events = [validate_transaction(raw) for raw in sent[50:]]
    for before, after in zip(plain_events, lab_events, strict=True):
        for column in generate_cli.ID_COLUMNS:
            assert getattr(after, column) == "lab99-" + getattr(before, column)
        assert (after.amount, after.merchant_category) == (before.amount, before.merchant_category)
    assert _run([*args, "--id-prefix", "lab 99"], tmp_path).exit_code != 0

"""The helpers behind labs 16-18 and the streaming drills, without a broker: where a key lands,
what the drills send, and how the naive join of the leakage demo picks rows."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from kafka.partitioner.default import DefaultPartitioner

from dojo.contracts import InvalidEvent, validate_transaction
from dojo.features import spec
from dojo.features.leakage import ODFV_FEATURE, naive_join, newest_rows
from dojo.ingestion.dlq import reason_label
from dojo.ingestion.kafka_inspect import PartitionLag, partition_for_key
from dojo.settings import load_settings
from dojo.teaching.drills._legacy_pos import legacy_event
from dojo.teaching.drills._stream import drill_event


@pytest.mark.parametrize("key", ["u0007052", "u0002081", "u-lab16", "u-canary", "x"])
def test_partition_for_key_matches_the_producers_partitioner(key: str) -> None:
    cluster = SimpleNamespace(topics=lambda: {"t"}, partitions_for_topic=lambda _: set(range(6)),
                              available_partitions_for_topic=lambda _: set(range(6)))
    chosen = DefaultPartitioner().partition("t", key, key.encode(), None, None, cluster)
    assert partition_for_key(key, 6) == chosen


def test_lag_counts_from_zero_when_nothing_was_committed() -> None:
    assert PartitionLag(0, None, 12).lag == 12
    assert PartitionLag(1, 12, 12).lag == 0
    assert PartitionLag(2, 15, 12).lag == 0  # never negative (end offsets can read low locally)


def test_the_legacy_gateway_sends_poison_the_validator_names() -> None:
    key, value = legacy_event(3)
    assert key.decode() == json.loads(value)["user_id"]
    with pytest.raises(InvalidEvent) as caught:
        validate_transaction(value)
    assert caught.value.reason.startswith("amount: Input should be a valid number")
    assert reason_label(caught.value.reason) == "amount"


def test_drill_events_are_valid_transactions() -> None:
    event = validate_transaction(drill_event("u-drill-1", "t-1", 12.5))
    assert (event.user_id, event.amount) == ("u-drill-1", 12.5)


def _write(path: Path, frame: pd.DataFrame) -> str:
    frame.to_parquet(path)
    return str(path)


def test_newest_rows_takes_each_keys_last_row_up_to_as_of(tmp_path: Path) -> None:
    stamps = pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-01"], utc=True)
    table = pd.DataFrame({"merchant_id": ["m1", "m1", "m1", "m2"], spec.TIMESTAMP_COLUMN: stamps,
                          "merchant_fraud_rate": [0.1, 0.2, 0.3, 0.5]})
    path = _write(tmp_path / "m.parquet", table)
    rows = newest_rows(path, "merchant_id", pd.Timestamp("2025-01-02", tz="UTC"))
    assert dict(zip(rows["merchant_id"], rows["merchant_fraud_rate"], strict=True)) == {
        "m1": 0.2, "m2": 0.5}
    assert spec.TIMESTAMP_COLUMN not in rows.columns


def test_naive_join_ignores_the_rows_own_time(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    spec.features_dir(settings).mkdir(parents=True)
    day = pd.to_datetime(["2025-01-01 10:00", "2025-01-01 11:00"], utc=True)
    users = pd.DataFrame({"user_id": ["u1", "u1"], spec.TIMESTAMP_COLUMN: day,
                          spec.CREATED_COLUMN: day, "txn_count_24h": [1, 2],
                          "amount_mean_24h": [10.0, 0.0]})
    merchants = pd.DataFrame({"merchant_id": ["m1"], spec.TIMESTAMP_COLUMN: day[1:],
                              "merchant_fraud_rate": [1.0]})
    _write(spec.user_features_path(settings), users)
    _write(spec.merchant_features_path(settings), merchants)
    entities = pd.DataFrame({"user_id": ["u1"], "merchant_id": ["m1"], "amount": [50.0],
                             spec.TIMESTAMP_COLUMN: day[:1]})
    joined = naive_join(settings, entities, as_of=day[1])
    row = joined.iloc[0]
    # the 10:00 transaction sees the 11:00 state: the future count and the later label
    assert (row["txn_count_24h"], row["merchant_fraud_rate"]) == (2, 1.0)
    assert pd.isna(row[ODFV_FEATURE])  # mean 0: the on-demand view's rule gives NaN

"""The replay's cohort: its own customers, the history's pace, drift only where it is scored.

Why these properties: the drift monitor's verdict on ordinary traffic is only meaningful if the
replayed customers have the same past and density as the history the champion learned from,
and if no other stream's events share their ids (lab 20 relies on both).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dojo.monitoring.replay import (
    COHORT_ID_COLUMNS,
    ReplayPlan,
    cohort_frames,
    event_records,
    new_cohort,
)
from dojo.synthetic.drift import DriftConfig


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    plan = ReplayPlan(cohort="c1-", warm_up_days=7, score_days=2, rows_per_day=300,
                      users=500, merchants=200, drift=DriftConfig(amount_shift=3.0))
    return cohort_frames(plan)


def test_the_past_comes_first_and_the_scored_days_follow(
        frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    past, scored = frames
    assert (len(past), len(scored)) == (7 * 300, 2 * 300)
    assert past["ts"].min().date() >= date(2024, 12, 1)
    assert past["ts"].max() < scored["ts"].min()
    assert scored["ts"].max().date() <= date(2024, 12, 9)
    assert past["ts"].is_monotonic_increasing and scored["ts"].is_monotonic_increasing


def test_a_cohort_has_its_own_customers_and_shares_the_merchants(
        frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    past, scored = frames
    for column in COHORT_ID_COLUMNS:
        assert past[column].str.startswith("c1-").all(), column
        assert scored[column].str.startswith("c1-").all(), column
    assert not scored["merchant_id"].str.startswith("c1-").any()
    # the scored days' customers are the past's customers
    assert scored["user_id"].isin(set(past["user_id"])).mean() > 0.9
    assert new_cohort() != new_cohort()


def test_drift_changes_only_the_scored_days(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    past, scored = frames
    normal = cohort_frames(ReplayPlan(cohort="c1-", warm_up_days=7, score_days=2,
                                      rows_per_day=300, users=500, merchants=200))
    pd.testing.assert_frame_equal(past, normal[0])
    assert scored["amount"].median() > 2.5 * normal[1]["amount"].median()


def test_events_are_sent_with_their_own_event_times(
        frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, scored = frames
    records = event_records(scored.head(3))
    assert records[0]["ts"] == scored["ts"].iloc[0].isoformat()
    assert not {"is_fraud", "fraud_pattern", "label_ts", "event_date"} & set(records[0])

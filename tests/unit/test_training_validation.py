"""Data checks before training: missing days and broken columns are named, good data passes."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dojo.ingestion.offline_store import write_transactions
from dojo.settings import Settings, load_settings
from dojo.synthetic.generator import generate_history
from dojo.training.errors import DataValidationError, InputsMissing
from dojo.training.inputs import backfill_command, check_inputs, load_window
from dojo.training.validation import labelled_rows, validate
from dojo.training.window import resolve_window

END = datetime(2025, 1, 11)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return generate_history(rows=6000, days=10, seed=7, start_date=date(2025, 1, 1))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home", train_lookback_days=10, train_min_rows=500,
                         train_min_positives=5)


def _window():
    return resolve_window("2025-01-10", END, lookback_days=10)


def test_window_covers_the_lookback_ending_at_the_interval_end() -> None:
    window = resolve_window("2025-01-10T00:00:00+00:00", "2025-01-11T00:00:00+00:00", 3)
    assert [str(d) for d in window.days] == ["2025-01-08", "2025-01-09", "2025-01-10"]
    longer = resolve_window("2025-01-01", "2025-01-11", 3)  # a long manual interval: used whole
    assert len(longer.days) == 10
    assert type(window).from_dict(window.to_dict()) == window


def test_a_run_without_data_interval_says_how_to_get_one() -> None:
    with pytest.raises(ValueError, match="dojo train --start"):
        resolve_window(None, None, 14)


def test_missing_days_are_named_with_the_command_that_fills_them(
    history: pd.DataFrame, settings: Settings
) -> None:
    write_transactions(history[history["event_date"] != "2025-01-04"], settings.offline_dir)
    with pytest.raises(InputsMissing, match=r"no transactions for 2025-01-04 .*dojo generate"):
        check_inputs(settings, _window())


def test_the_backfill_covers_only_the_missing_days_at_the_usual_volume() -> None:
    days = {"2025-01-01": 600, "2025-01-02": 0, "2025-01-03": 0, "2025-01-04": 580,
            "2025-01-05": 0, "2025-01-06": 620}
    assert backfill_command(days, ["2025-01-02", "2025-01-03", "2025-01-05"]) == (
        "dojo generate history --start-date 2025-01-02 --days 2 --rows 1200")
    empty = dict.fromkeys(days, 0)
    assert backfill_command(empty, list(empty)) == (
        "dojo generate history --start-date 2025-01-01 --days 6")


def test_good_data_passes_with_a_report(history: pd.DataFrame, settings: Settings) -> None:
    write_transactions(history, settings.offline_dir)
    window = _window()
    inputs = check_inputs(settings, window)
    assert inputs.rows == len(history) and sum(inputs.rows_per_day.values()) == len(history)
    raw = load_window(settings, window)
    report = validate(raw, window, settings)
    labelled = labelled_rows(raw, window)
    assert report.labelled_rows == len(labelled) < len(raw)  # late labels are not known yet
    assert (labelled["label_ts"] < pd.Timestamp(END, tz="UTC")).all()
    assert 0.001 < report.label_rate < 0.2


@pytest.mark.parametrize(
    ("column", "corrupt", "rule"),
    [
        ("amount", lambda f: f.assign(amount=np.where(f.index % 9 == 0, -5.0, f["amount"])),
         "0 < amount"),
        ("merchant_id", lambda f: f.assign(merchant_id=f["merchant_id"].where(f.index % 7 != 0)),
         "not null"),
        ("channel", lambda f: f.assign(channel=f["channel"].replace("pos", "POS")), "one of"),
        ("label_ts", lambda f: f.assign(label_ts=f["ts"] - pd.Timedelta(hours=1)),
         "label_ts >= ts"),
    ],
)
def test_a_broken_column_fails_naming_the_column_and_rule(
    history: pd.DataFrame, settings: Settings, column: str, corrupt, rule: str
) -> None:
    frame = corrupt(history.reset_index(drop=True))
    with pytest.raises(DataValidationError) as caught:
        validate(frame.drop(columns=["event_date"]), _window(), settings)
    assert column in caught.value.columns
    assert f"column {column!r} failed rule" in str(caught.value)
    assert rule in str(caught.value)


def test_a_missing_column_is_a_schema_failure(history: pd.DataFrame, settings: Settings) -> None:
    with pytest.raises(DataValidationError, match="column 'amount' failed rule 'present'"):
        validate(history.drop(columns=["amount"]), _window(), settings)


def test_an_implausible_label_rate_is_refused(history: pd.DataFrame, settings: Settings) -> None:
    everything_fraud = history.assign(is_fraud=True)
    with pytest.raises(DataValidationError, match=r"label rate in"):
        validate(everything_fraud, _window(), settings)

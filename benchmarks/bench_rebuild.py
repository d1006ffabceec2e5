"""Stream-state rebuild time against the size of the offline store's history.

Baseline (same process, same files): the full rebuild the processor did before, reading the
whole transactions table into `FeatureState.load`. Measured: the horizon rebuild
(`dojo.features.state_rebuild`) cold (the first rebuild, which summarises every day older than
the horizon's day once) and warm (the summary is up to date: what every later rebuild pays). The
history grows by days at a fixed rate, so the window holds the same number of events at every
size and only the history outside it grows.
Run alone: `python benchmarks/bench_rebuild.py [--rows 1000000,10000000]`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd

from _report import report
from dojo.features.spec import EVENT_COLUMNS
from dojo.features.state import FeatureState
from dojo.features.state_rebuild import read_state_events
from dojo.ingestion import offline_store

ROWS_PER_DAY, USERS, DEVICES_PER_USER, LATENESS_S = 100_000, 20_000, 3, 600.0
START = pd.Timestamp("2026-01-01", tz="UTC")


def write_history(offline_dir: Path, rows: int, seed: int = 1) -> int:
    """``rows`` events, ROWS_PER_DAY a day, one history file per day; returns the days."""
    rng = np.random.default_rng(seed)
    days = max(1, rows // ROWS_PER_DAY)
    for day in range(days):
        n = ROWS_PER_DAY
        users = rng.integers(0, USERS, n)
        ts = START + pd.Timedelta(days=day) + pd.to_timedelta(
            np.sort(rng.integers(0, 86_400_000_000_000, n)), unit="ns")
        frame = pd.DataFrame({
            "transaction_id": [f"t{day}-{i}" for i in range(n)],
            "ts": ts,
            "user_id": [f"u{u}" for u in users],
            "card_id": "c",
            "merchant_id": [f"m{m}" for m in rng.integers(0, 500, n)],
            "merchant_category": "grocery",
            "amount": rng.gamma(2.0, 30.0, n).round(2),
            "currency": "USD",
            "country": rng.choice(["US", "DE", "FR", "GB"], n),
            "device_id": [f"d{u}-{d}" for u, d in zip(users, rng.integers(0, DEVICES_PER_USER,
                                                                          n), strict=True)],
            "channel": "pos",
            "is_fraud": False,
            "fraud_pattern": None,
        })
        frame["label_ts"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        frame[offline_store.PARTITION_COLUMN] = (START + pd.Timedelta(days=day)).strftime(
            "%Y-%m-%d")
        offline_store.write_transactions(frame, offline_dir)
    return days


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def full_rebuild(offline_dir: Path) -> FeatureState:
    state = FeatureState(LATENESS_S)
    state.load(offline_store.read_transactions(offline_dir, columns=EVENT_COLUMNS))
    return state


def horizon_rebuild(offline_dir: Path) -> FeatureState:
    state = FeatureState(LATENESS_S)
    state.load(read_state_events(offline_dir, LATENESS_S).events)
    return state


def buffers_equal(full: FeatureState, horizon: FeatureState) -> bool:
    """Every user's buffer and ids, quiet users included (the exactness promise)."""
    return full.users.keys() == horizon.users.keys() and all(
        horizon.users[u].rows == b.rows and horizon.users[u].ids == b.ids
        for u, b in full.users.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000",
                        help="history sizes to measure, comma-separated")
    sizes = [int(value) for value in parser.parse_args().rows.split(",")]
    rows = []
    for size in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="bench-rebuild-"))
        try:
            days = write_history(tmp, size)
            full_s, full = timed(lambda: full_rebuild(tmp))  # noqa: B023 (called at once)
            cold_s, _ = timed(lambda: horizon_rebuild(tmp))  # noqa: B023
            warm_s, warm = timed(lambda: horizon_rebuild(tmp))  # noqa: B023
            same = float(buffers_equal(full, warm))
            read = read_state_events(tmp, LATENESS_S)
            del full, warm
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        label = f"{size / 1e6:g}M rows ({days} days)"
        rows += [
            {"measure": f"full rebuild, {label}", "value": full_s, "unit": "s", "ratio": 1.0},
            {"measure": f"horizon rebuild cold (summarises old days once), {label}",
             "value": cold_s, "unit": "s", "ratio": cold_s / full_s},
            {"measure": f"horizon rebuild warm, {label}", "value": warm_s, "unit": "s",
             "ratio": warm_s / full_s},
            {"measure": f"rows read warm: recent days + summary of older days, {label}",
             "value": read.recent_rows + read.summary_rows, "unit": "rows"},
            {"measure": f"state equal to the full rebuild's (1 = yes), {label}",
             "value": same, "unit": ""},
        ]
    report("rebuild", "full-history rebuild (read the whole table)", rows,
           notes=f"{ROWS_PER_DAY:,} events a day, {USERS:,} users, {DEVICES_PER_USER} devices "
                 f"each, allowed lateness {LATENESS_S:.0f} s. 'State equal' compares every user's "
                 "buffer and ids with the full rebuild's.")


if __name__ == "__main__":
    main()

"""A smaller read for rebuilding the stream's window state, and the compaction of closed days.

Why not the whole table: the state (`dojo.features.state`) keeps, per user, the events of the
longest window before the user's newest event plus a few older "ghost" rows (the latest event
before that window, for `seconds_since_prev_txn`, and the first event of each device, for
`is_new_device`), so a restart that reads years of history throws almost all of it away, and
its time grows with the history.

What is read instead, for a horizon ``H = newest event in the store - longest window - allowed
lateness``: every event from H's day on, and for the days before it a summary that holds
exactly the rows a state loaded from those days would keep (`state_rows`), per user. The
summary is kept up to date by folding in each day once it is older than H's day.

Exactness, per user (the state judges lateness and duplicates against each user's own newest
event): for days ``A`` entirely older than days ``B``, ``state_rows(state_rows(A) + B)`` equals
``state_rows(A + B)``, because a user's newest event only moves forward, so a row dropped from
``A`` can never be needed again. A state loaded from this read is therefore the one a full read
gives, for every user, however long ago they were last seen. (A first version kept only the
ghosts before a global horizon: a user quiet for longer than it lost the rest of its window,
and a replay of its old events was applied again instead of counted as duplicates.)

Why the summary is checked against a fingerprint of the partitions' file listings (names,
sizes, mtimes, chained day by day): the offline store is append-only but not closed; a late
event or a `dojo generate` rerun can add or replace a file in an old day, and a summary built
before it would silently miss it. A changed listing means a full re-summary (a listing costs
a directory scan, not a read). `compact_closed_days` is what `dojo features compact` runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dojo.features.spec import EVENT_COLUMNS, LONGEST_WINDOW_S
from dojo.features.state import state_rows
from dojo.ingestion.compaction import Compacted, compact_day
from dojo.ingestion.offline_store import (
    OFFLINE_SCHEMA,
    list_partitions,
    newest_event,
    partition_dir,
    read_transactions,
)

SUMMARY_FILE = Path("stream_state") / "state_rows.parquet"  # under the offline dir
_META_KEY = b"dojo.state_rows"
_SUMMARY_SCHEMA = pa.schema([OFFLINE_SCHEMA.field(name) for name in EVENT_COLUMNS])


@dataclass(frozen=True)
class StateRead:
    """The events to load into `FeatureState`, and what it took to read them."""

    events: pd.DataFrame
    horizon: pd.Timestamp | None  # None: the store is empty
    recent_rows: int  # events of the horizon's day and later, read in full
    summary_rows: int  # rows of the summary of the days before it
    folded_days: tuple[str, ...]  # days read in full to bring the summary up to date


def horizon_of(newest: pd.Timestamp, allowed_lateness_s: float) -> pd.Timestamp:
    return newest - pd.Timedelta(seconds=LONGEST_WINDOW_S + allowed_lateness_s)


def read_state_events(offline_dir: Path, allowed_lateness_s: float) -> StateRead:
    """The events a state loaded from the whole store keeps (see the module docstring)."""
    offline_dir = Path(offline_dir)
    newest = newest_event(offline_dir)
    if newest is None:
        return StateRead(_empty(), None, 0, 0, ())
    horizon = horizon_of(newest, allowed_lateness_s)
    day = horizon.strftime("%Y-%m-%d")
    recent = read_transactions(offline_dir, start=day, columns=EVENT_COLUMNS)
    summary, folded = _summary(offline_dir, [d for d in list_partitions(offline_dir) if d < day])
    events = pd.concat([summary, recent], ignore_index=True)
    return StateRead(events, horizon, len(recent), len(summary), folded)


def summary_rows(events: pd.DataFrame) -> pd.DataFrame:
    """`state_rows` with the summary's columns and schema (empty in, empty out)."""
    if events.empty:
        return _empty()
    return state_rows(events).reset_index(drop=True)


def _summary(offline_dir: Path, days: list[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """`state_rows` of ``days`` (all before the horizon's day), from the saved summary plus
    the days added since; saves the result when it had to read any day."""
    if not days:
        return _empty(), ()
    chain = _fingerprints(offline_dir, days)
    path = offline_dir / SUMMARY_FILE
    summary, start = _empty(), 0
    saved = _saved_state(path)
    if saved is not None and saved["upto"] in chain and chain[saved["upto"]] == saved["fp"]:
        summary = pq.read_table(path).to_pandas()
        start = days.index(saved["upto"]) + 1
    folded = tuple(days[start:])
    if folded:
        # One scan over the days to fold, not one per day: every scan lists the whole store
        # first, so a day at a time took 34 s once the store held 98 days of small
        # files (a stream restart that waited that long made labs 13, 16 and 17 time out).
        raw = read_transactions(offline_dir, start=folded[0], end=folded[-1],
                                columns=EVENT_COLUMNS)
        summary = summary_rows(pd.concat([summary, raw], ignore_index=True))
        _save(path, summary, {"upto": days[-1], "fp": chain[days[-1]]})
    return summary, folded


def compact_closed_days(offline_dir: Path, allowed_lateness_s: float) -> list[Compacted]:
    """Compact the stream files of every day before the state horizon's day.

    Why those days: the stream writes into them only for a late event of a quiet user, so one
    merged file stays merged. A summary that was up to date stays valid (it is restamped
    with the new listings), since a compaction changes files, not events; if anything else
    changed a listing meanwhile, it is left stale and the next rebuild re-summarises.
    """
    offline_dir = Path(offline_dir)
    newest = newest_event(offline_dir)
    if newest is None:
        return []
    day = horizon_of(newest, allowed_lateness_s).strftime("%Y-%m-%d")
    days = [d for d in list_partitions(offline_dir) if d < day]
    before = {d: _listing(offline_dir, d) for d in days}
    done = [result for d in days if (result := compact_day(offline_dir, d)) is not None]
    path = offline_dir / SUMMARY_FILE
    saved = _saved_state(path)
    if not done or saved is None or saved["upto"] not in before:
        return done
    covered = days[: days.index(saved["upto"]) + 1]
    if _chain(covered, before)[saved["upto"]] != saved["fp"]:
        return done
    results = {result.day: result for result in done}
    after = {d: _listing(offline_dir, d) for d in covered}
    for d in covered:
        if not _only_compacted(before[d], after[d], results.get(d)):
            return done  # something else changed the day meanwhile
    _save(path, pq.read_table(path).to_pandas(),
          {"upto": saved["upto"], "fp": _chain(covered, after)[saved["upto"]]})
    return done


def _only_compacted(before: list, after: list, result: Compacted | None) -> bool:
    """Whether a day's listing changed by the compaction ``result`` and nothing else."""
    if result is None:
        return after == before
    gone = {*result.inputs, result.output}
    return ([e for e in after if e[0] != result.output] == [e for e in before if e[0] not in gone]
            and any(e[0] == result.output for e in after))


def _listing(offline_dir: Path, day: str) -> list[tuple[str, int, int]]:
    with os.scandir(partition_dir(offline_dir, day)) as entries:
        return sorted(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in entries if entry.name.endswith(".parquet")
            and not entry.name.startswith((".", "_"))
        )


def _fingerprints(offline_dir: Path, days: list[str]) -> dict[str, str]:
    """A digest per day of every file listing up to and including that day."""
    return _chain(days, {day: _listing(offline_dir, day) for day in days})


def _chain(days: list[str], listings: dict[str, list]) -> dict[str, str]:
    digest, chain = hashlib.sha1(), {}
    for day in days:
        digest.update(json.dumps([day, listings[day]]).encode())
        chain[day] = digest.copy().hexdigest()
    return chain


def _saved_state(path: Path) -> dict | None:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    raw = metadata.get(_META_KEY)
    return None if raw is None else json.loads(raw)


def _save(path: Path, summary: pd.DataFrame, state: dict) -> None:
    """Atomically, so a concurrent rebuild reads the old summary or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(summary, schema=_SUMMARY_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({_META_KEY: json.dumps(state).encode()})
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _empty() -> pd.DataFrame:
    return _SUMMARY_SCHEMA.empty_table().to_pandas()

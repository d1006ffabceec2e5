"""A smaller read for rebuilding the stream's window state, and the compaction of closed days.

Not used by the stream processor yet (it reads the whole table): the state judges lateness and
duplicates per user, against the user's own newest event, while the horizon below is global, so
a replay of a quiet user's old events would be applied again instead of counted as duplicates
(docs/performance.md). `compact_closed_days` is what `dojo features compact` runs.

Why not the whole table: the state (`dojo.features.state`) keeps, per user, the events of the
longest window before the user's newest event plus a few older "ghost" rows, so a restart that
reads years of history throws almost all of it away, and its time grows with the history.

What is read instead, for a horizon ``H = newest event in the store - longest window - allowed
lateness``:

- every event with ``ts >= H``, partitions before H's day pruned and the bound pushed into the
  parquet scan (arrow skips row groups outside it);
- the ghost candidates older than H: each user's latest event and the first event of each
  (user, device). The windows never count them, but ``seconds_since_prev_txn`` and
  ``is_new_device`` depend on them however old they are, so dropping them would make the
  online rows differ from the batch build (training/serving skew). They come from a summary of
  the days before H's day (`GHOSTS_FILE`), kept up to date by folding in each day once it is
  older than the horizon, plus the part of H's own day before H, summarised on the fly.

Exactness: both selections are "first" and "last" in (ts, transaction_id) order, which do not
depend on how the history is split, so `FeatureState.load` keeps the very rows a full read
keeps for every user whose newest event is at or after ``newest - allowed lateness``, and every
event at or after that instant gets the same feature rows as after a full read. (A user whose
newest event is older keeps only its ghosts and the part of its window after H; an event for
them older than ``newest - allowed lateness`` would be too late for any active user as well.)

Why the summary is checked against a fingerprint of the partitions' file listings (names,
sizes, mtimes, chained day by day): the offline store is append-only but not closed; a late
event or a `dojo generate` rerun can add or replace a file in an old day, and a summary built
before it would silently miss it. A changed listing means a full re-summary (a listing costs
a directory scan, not a read).
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

from dojo.features.spec import EVENT_COLUMNS, LONGEST_WINDOW_S, USER_ENTITY_KEY
from dojo.features.windows import normalise_events
from dojo.ingestion.compaction import Compacted, compact_day
from dojo.ingestion.offline_store import (
    OFFLINE_SCHEMA,
    list_partitions,
    newest_event,
    partition_dir,
    read_transactions,
)

GHOSTS_FILE = Path("stream_state") / "ghosts.parquet"  # under the offline dir
_META_KEY = b"dojo.ghosts"
_GHOST_SCHEMA = pa.schema([OFFLINE_SCHEMA.field(name) for name in EVENT_COLUMNS])


@dataclass(frozen=True)
class StateRead:
    """The events to load into `FeatureState`, and what it took to read them."""

    events: pd.DataFrame
    horizon: pd.Timestamp | None  # None: the store is empty
    window_rows: int  # events at or after the horizon
    ghost_rows: int  # ghost candidates older than the horizon
    folded_days: tuple[str, ...]  # days read in full to bring the ghost summary up to date


def horizon_of(newest: pd.Timestamp, allowed_lateness_s: float) -> pd.Timestamp:
    return newest - pd.Timedelta(seconds=LONGEST_WINDOW_S + allowed_lateness_s)


def read_state_events(offline_dir: Path, allowed_lateness_s: float) -> StateRead:
    """The window events and ghost candidates the state needs (see the module docstring)."""
    offline_dir = Path(offline_dir)
    newest = newest_event(offline_dir)
    if newest is None:
        return StateRead(_empty(), None, 0, 0, ())
    horizon = horizon_of(newest, allowed_lateness_s)
    day = horizon.strftime("%Y-%m-%d")
    window = read_transactions(offline_dir, start=day, columns=EVENT_COLUMNS, since=horizon)
    edge = read_transactions(offline_dir, start=day, end=day, columns=EVENT_COLUMNS,
                             before=horizon)
    summary, folded = _ghost_summary(offline_dir, [d for d in list_partitions(offline_dir)
                                                   if d < day])
    ghosts = ghost_candidates(pd.concat([summary, edge], ignore_index=True))
    events = pd.concat([ghosts, window], ignore_index=True)
    return StateRead(events, horizon, len(window), len(ghosts), folded)


def ghost_candidates(events: pd.DataFrame) -> pd.DataFrame:
    """Each user's latest event and each (user, device)'s first, in (ts, transaction_id)
    order, duplicates of a transaction_id counted once (as every reader does)."""
    if events.empty:
        return _empty()
    frame = normalise_events(events)
    last = frame.drop_duplicates(USER_ENTITY_KEY, keep="last").index
    first = frame.drop_duplicates([USER_ENTITY_KEY, "device_id"], keep="first").index
    return frame.loc[last.union(first)].reset_index(drop=True)


def _ghost_summary(offline_dir: Path, days: list[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Ghost candidates of ``days`` (all before the horizon's day), from the saved summary
    plus the days added since; saves the result when it had to read any day."""
    if not days:
        return _empty(), ()
    chain = _fingerprints(offline_dir, days)
    path = offline_dir / GHOSTS_FILE
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
        summary = ghost_candidates(pd.concat([summary, raw], ignore_index=True))
        _save(path, summary, {"upto": days[-1], "fp": chain[days[-1]]})
    return summary, folded


def compact_closed_days(offline_dir: Path, allowed_lateness_s: float) -> list[Compacted]:
    """Compact the stream files of every day before the state horizon's day.

    Why those days: the stream writes into them only for a late event of a quiet user, so one
    merged file stays merged. A ghost summary that was up to date stays valid (it is restamped
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
    path = offline_dir / GHOSTS_FILE
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
    table = pa.Table.from_pandas(summary, schema=_GHOST_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({_META_KEY: json.dumps(state).encode()})
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _empty() -> pd.DataFrame:
    return _GHOST_SCHEMA.empty_table().to_pandas()

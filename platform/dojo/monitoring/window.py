"""The monitor's rolling window: predictions, their late labels and the Kafka offsets, on disk.

Why SQLite, and offsets in the same file: a batch of messages, the labels it joined and the
offsets after it are written in one transaction. After a crash or restart the monitor seeks
to the stored offsets, so every message is applied exactly once to the window: nothing joined
is lost and nothing is counted twice. (Committing offsets to Kafka separately would leave a
gap in which the two disagree.)

Why labels are stored apart from predictions and joined on read: `labels` and `predictions`
are two topics read by one poll loop, so a label can arrive before its prediction has been
read. It waits (`monitor_label_grace_s`); only a label still unmatched after that counts as
one for an unknown transaction.

The window is bounded by age (scoring time) and by count; a prediction that leaves it takes
its label with it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    transaction_id TEXT PRIMARY KEY, request_id TEXT, ts TEXT, scored_at REAL NOT NULL,
    variant TEXT, model_version TEXT, features TEXT NOT NULL, score REAL NOT NULL,
    decision TEXT, degraded INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS predictions_scored_at ON predictions (scored_at);
CREATE TABLE IF NOT EXISTS labels (
    transaction_id TEXT PRIMARY KEY, is_fraud INTEGER NOT NULL, label_ts TEXT,
    received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class PredictionRow:
    transaction_id: str
    request_id: str
    ts: str
    scored_at: float  # epoch seconds
    variant: str
    model_version: str
    features: dict[str, object]
    score: float
    decision: str
    degraded: bool


@dataclass(frozen=True)
class LabelRow:
    transaction_id: str
    is_fraud: bool
    label_ts: str


@dataclass(frozen=True)
class WindowSizes:
    predictions: int
    labels_joined: int
    labels_waiting: int


class Window:
    """One SQLite file; every public write is one transaction."""

    def __init__(self, path: Path, max_rows: int, max_age_s: float, label_grace_s: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_rows, self.max_age_s, self.label_grace_s = max_rows, max_age_s, label_grace_s
        # One connection shared by the intake thread (writes) and the run/HTTP threads (reads):
        # the lock keeps one thread's transaction from committing or seeing another's.
        self._lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self.db:  # commits on success, rolls back on an exception
            yield self.db

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ writes
    def apply(self, predictions: Iterable[PredictionRow], labels: Iterable[LabelRow],
              offsets: dict[tuple[str, int], int], bad: dict[str, int] | None = None,
              now: float | None = None) -> None:
        """Add one polled batch and move the offsets past it, atomically."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO predictions VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(p.transaction_id, p.request_id, p.ts, p.scored_at, p.variant, p.model_version,
                  json.dumps(p.features), p.score, p.decision, int(p.degraded))
                 for p in predictions])
            db.executemany(
                "INSERT OR REPLACE INTO labels VALUES (?,?,?,?)",
                [(lb.transaction_id, int(lb.is_fraud), lb.label_ts, now) for lb in labels])
            db.executemany(
                "INSERT OR REPLACE INTO offsets VALUES (?,?,?)",
                [(topic, partition, offset) for (topic, partition), offset in offsets.items()])
            for name, count in (bad or {}).items():
                db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                           "SET value = value + excluded.value", (name, count))

    def prune(self, now: float | None = None) -> dict[str, int]:
        """Drop what left the window; returns counts (unknown_label = labels given up on)."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (transaction_id TEXT PRIMARY KEY)")
            db.execute("DELETE FROM gone")
            old = db.execute("INSERT OR IGNORE INTO gone SELECT transaction_id FROM predictions "
                             "WHERE scored_at < ?", (now - self.max_age_s,)).rowcount
            over = db.execute(
                "INSERT OR IGNORE INTO gone SELECT transaction_id FROM predictions ORDER BY "
                "scored_at DESC, rowid DESC LIMIT -1 OFFSET ?", (self.max_rows,)).rowcount
            # a prediction leaving the window takes its label with it
            db.execute("DELETE FROM labels WHERE transaction_id IN (SELECT * FROM gone)")
            db.execute("DELETE FROM predictions WHERE transaction_id IN (SELECT * FROM gone)")
            unknown = db.execute(
                "DELETE FROM labels WHERE received_at < ? AND transaction_id NOT IN "
                "(SELECT transaction_id FROM predictions)", (now - self.label_grace_s,)
            ).rowcount
            if unknown:
                db.execute("INSERT INTO counters VALUES ('label_unknown_transaction', ?) ON "
                           "CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                           (unknown,))
        return {"aged_out": old, "over_count": over, "unknown_label": unknown}

    def reset(self) -> WindowSizes:
        """Empty the window (predictions and labels) and keep the offsets; returns what was
        dropped.

        Why keep the offsets: a reset starts a new window from *now*, after a known change (a
        finished incident, a replay about to begin); it must not re-read the topics and bring
        the old traffic back.
        """
        dropped = self.sizes()
        with self._transaction() as db:
            db.execute("DELETE FROM labels")
            db.execute("DELETE FROM predictions")
        return dropped

    # ------------------------------------------------------------------ reads
    def offsets(self) -> dict[tuple[str, int], int]:
        rows = self._query("SELECT topic, partition, next_offset FROM offsets")
        return {(topic, partition): offset for topic, partition, offset in rows}

    def counters(self) -> dict[str, int]:
        return dict(self._query("SELECT name, value FROM counters"))

    def sizes(self) -> WindowSizes:
        predictions = self._query("SELECT count(*) FROM predictions")[0][0]
        joined = self._query("SELECT count(*) FROM labels JOIN predictions "
                             "USING (transaction_id)")[0][0]
        waiting = self._query("SELECT count(*) FROM labels")[0][0] - joined
        return WindowSizes(predictions, joined, waiting)

    def frame(self, include_shadow: bool = False) -> pd.DataFrame:
        """The window as rows: one column per feature, plus score, decision and the label
        (NaN where none has arrived). Shadow rows are left out: they never reached a user."""
        where = "" if include_shadow else "WHERE p.variant != 'shadow'"
        rows = self._query(
            "SELECT p.transaction_id, p.ts, p.scored_at, p.variant, p.model_version, p.features,"
            " p.score, p.decision, p.degraded, l.is_fraud FROM predictions p LEFT JOIN labels l"
            f" USING (transaction_id) {where} ORDER BY p.scored_at")
        columns = ["transaction_id", "ts", "scored_at", "variant", "model_version", "features",
                   "score", "decision", "degraded", "is_fraud"]
        frame = pd.DataFrame(rows, columns=columns)
        if frame.empty:  # a new or just reset window: a run says "0 predictions", not a 500
            return frame.drop(columns="features")
        features = pd.DataFrame.from_records([json.loads(f) for f in frame.pop("features")],
                                             index=frame.index)
        return pd.concat([frame, features], axis=1)

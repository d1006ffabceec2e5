"""Airflow's metadata engine waits for SQLite's write lock longer than sqlite3's default 5 s.

Why: every Airflow process and task shares one SQLite file. When a writer held the lock over
5 s, the API server failed a backfill request with a 500 (see dojo.runtime.airflow_sqlite). Here a
second connection holds an exclusive lock for 7 s while Airflow's own engine, configured from
the stack's environment, writes: the write must wait and then succeed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dojo.runtime.airflow import airflow_env
from dojo.settings import load_settings

HOLD_S = 7.0  # longer than sqlite3's default 5 s timeout

PROBE = f"""
import sqlite3, sys, threading, time
from sqlalchemy import text
from airflow import settings

settings.configure_orm()
db = settings.engine.url.database
locker = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
locker.execute("BEGIN EXCLUSIVE")
threading.Timer({HOLD_S}, lambda: locker.execute("COMMIT")).start()
started = time.monotonic()
with settings.engine.begin() as connection:
    connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
    connection.execute(text("INSERT INTO probe VALUES (1)"))
print(f"waited {{time.monotonic() - started:.1f}}")
"""


def test_a_write_waits_out_a_lock_held_longer_than_five_seconds(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    env = {**os.environ, **airflow_env(settings, home=tmp_path / "airflow")}
    (tmp_path / "airflow").mkdir()
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    waited = float(result.stdout.split("waited ")[-1])
    assert waited >= HOLD_S - 0.5, result.stdout  # it really was blocked by the lock

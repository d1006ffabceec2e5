"""Connection arguments for Airflow's SQLite metadata database, which Airflow imports by path
(`[database] sql_alchemy_connect_args`, set by `dojo.runtime.airflow.airflow_env`).

Why: the API server, scheduler, DAG processor, triggerer and every task process share one
SQLite file, and SQLite admits one writer at a time. Python's sqlite3 waits 5 s for the write
lock, then fails. On 2 busy cores a scheduled run's tasks held it longer, and the API server
answered `POST /api/v2/backfills` with a 500 "Database error" (seen in the test suite). Waiting
up to 30 s rides out such a burst; a lock held longer than that is a real problem and still
fails.
"""

from __future__ import annotations

from typing import Any

LOCK_TIMEOUT_S = 30.0

# Airflow adds `check_same_thread` to the sync dict itself; both are read once per process.
SYNC: dict[str, Any] = {"timeout": LOCK_TIMEOUT_S}
ASYNC: dict[str, Any] = {"timeout": LOCK_TIMEOUT_S}

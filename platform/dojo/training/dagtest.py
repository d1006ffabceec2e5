"""Run `fraud_training` once in-process with `dag.test()`: no scheduler, no API server.

Why: tests and the benchmark need the real DAG (the same tasks, XComs, params, short-circuit
and failure handling) without the ~25 s start of Airflow's services, and with a metadata DB
of their own so they never touch a learner's Airflow. Run it as a separate process
(`python -m dojo.training.dagtest --end 2025-01-21`): Airflow reads its configuration when it
is first imported, so the AIRFLOW_* environment must be in place before that.

Prints one JSON line: {"state", "run_id", "tasks": {task_id: state}, "tries": {task_id: n}};
exits 0 only when the run succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def run_once(end: datetime, conf: dict[str, Any], airflow_home: Path) -> dict[str, Any]:
    """Run the DAG for the daily interval that ends at ``end`` (a midnight, UTC)."""
    from dojo.runtime.airflow import DAGS_FOLDER, prepare
    from dojo.settings import load_settings
    from dojo.training.names import DAG_ID

    os.environ.update(prepare(load_settings(), home=airflow_home))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER / f"{DAG_ID}.py"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[DAG_ID]
    # dag.test() infers the interval from the timetable: for a daily data-interval timetable
    # and logical date D (a midnight), that is [D - 1 day, D).
    dag_run = dag.test(logical_date=end, run_conf=conf)
    instances = dag_run.get_task_instances()
    return {"state": str(dag_run.state), "run_id": dag_run.run_id,
            "tasks": {ti.task_id: str(ti.state) for ti in instances},
            "tries": {ti.task_id: ti.try_number for ti in instances}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", required=True, help="interval end, YYYY-MM-DD (UTC midnight)")
    parser.add_argument("--conf", default="{}", help="DAG params as JSON")
    parser.add_argument("--airflow-home", required=True, type=Path)
    args = parser.parse_args(argv)
    end = datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=UTC)
    result = run_once(end, json.loads(args.conf), args.airflow_home)
    print(json.dumps(result), flush=True)
    return 0 if result["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())

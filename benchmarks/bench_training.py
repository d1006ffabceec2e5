"""How does training scale? For 100k and 1M rows of history (10M on request): the generator, the
point-in-time join and the `fraud_training` DAG's wall time, each against the bare `fit` of the
same models on the same training rows, measured in the same run.

By default 100k and 1M: 10M is past what the reference machine (2 cores, 24 GB) runs in
reasonable time (docs/performance.md, "Training": the limit, and the Spark offline store to
move to). `DOJO_BENCH_TRAINING_ROWS=100000,1000000,10000000` (comma-separated) measures other
sizes. A size whose DAG run fails (killed for memory, over the timeout) is recorded as failed
and the larger sizes are skipped.

The DAG runs with `dag.test()` in a subprocess (no scheduler, so no queueing delay is counted;
under the real scheduler add ~1-2 s per task), against an MLflow server of its own on a free
port. The baseline is the time the two candidate models take to fit, read back from the
training split the DAG wrote, so both sides see identical data.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd

from _report import report
from dojo.ingestion.offline_store import write_transactions
from dojo.runtime.airflow import prepare
from dojo.runtime.launch import standalone_mlflow
from dojo.settings import load_settings
from dojo.synthetic.generator import generate_history
from dojo.training.models import build_candidates, compute_threads

SIZES = tuple(sorted(int(n) for n in os.environ.get("DOJO_BENCH_TRAINING_ROWS",
                                                    "100000,1000000").split(",")))
TIMEOUT_S = 3600
DAYS, START, END = 21, date(2025, 1, 1), "2025-01-22"


STEP = re.compile(r"^(\S+)Z .*\[DAG TEST\] (starting|end task) task_id=(\w+)")


def task_seconds(output: str) -> dict[str, float]:
    """Seconds per task from dag.test's "[DAG TEST] starting/end task" log lines."""
    started: dict[str, datetime] = {}
    seconds: dict[str, float] = {}
    for line in output.splitlines():
        match = STEP.match(line)
        if not match:
            continue
        stamp, what, task = datetime.fromisoformat(match[1]), match[2], match[3]
        if what == "starting":
            started[task] = stamp
        elif task in started:
            seconds[task] = (stamp - started[task]).total_seconds()
    return seconds


def bare_fit(split_file: Path, features: list[str]) -> dict[str, float]:
    both = pd.read_parquet(split_file)
    train = both[both["split"] == "train"]
    seconds = {}
    with compute_threads():  # the same thread cap the DAG's train task uses
        for name, model in build_candidates(features).items():
            started = time.perf_counter()
            model.fit(train[features], train["is_fraud"].to_numpy(dtype=bool))
            seconds[name] = time.perf_counter() - started
    return seconds


def measure(rows: int) -> tuple[list[dict], dict]:
    """One DAG run on ``rows`` rows of history, and the bare fit on its training split."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with standalone_mlflow(tmp / "mlflow") as uri:
            settings = load_settings(home=tmp / "home", mlflow_tracking_uri=uri)
            started = time.perf_counter()
            write_transactions(generate_history(rows=rows, days=DAYS, seed=1, start_date=START),
                               settings.offline_dir)
            generator = time.perf_counter() - started
            env = {**os.environ, **settings.as_env()}
            prepare(settings, home=tmp / "airflow")  # one-off metadata migration, not counted
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "dojo.training.dagtest", "--end", END,
                 "--airflow-home", str(tmp / "airflow")],
                env=env, capture_output=True, text=True, check=False, timeout=TIMEOUT_S,
            )
            wall = time.perf_counter() - started
            # dag.test runs every task in that one process. RUSAGE_CHILDREN holds the largest
            # RSS of any child waited for so far; sizes run smallest first, and this size's
            # MLflow server is still running, so the reading is this size's DAG process.
            peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
            if result.returncode != 0:
                killed = result.returncode == -signal.SIGKILL or "SIGKILL" in result.stdout
                raise RuntimeError("a task was killed (out of memory?)" if killed else
                                   f"exit {result.returncode}: {result.stdout[-2000:]}")
            work = next((settings.home / "training").iterdir())
            info = json.loads((work / "features.json").read_text())
            fits = bare_fit(work / "split.parquet", info["features"])
            steps = task_seconds(result.stdout + result.stderr)
            rows_train = int((pd.read_parquet(work / "split.parquet")["split"] == "train").sum())
    both = sum(fits.values())
    join, tables = info["seconds"]["point_in_time_join"], info["seconds"]["feature_tables"]
    tag = f"{rows:,} rows"
    measured = [
        {"measure": f"{tag}: bare fit, both candidates (baseline)", "value": both, "unit": "s",
         "ratio": 1.0},
        {"measure": f"{tag}: DAG wall time (dag.test, 10 tasks) vs bare fit", "value": wall,
         "unit": "s", "ratio": wall / both},
        {"measure": f"{tag}: point-in-time join (fraud_model service) vs bare fit",
         "value": join, "unit": "s", "ratio": join / both},
        {"measure": f"{tag}: feature tables rebuild (in the DAG) vs bare fit", "value": tables,
         "unit": "s", "ratio": tables / both},
        {"measure": f"{tag}: generator (generate_history + write) vs bare fit",
         "value": generator, "unit": "s", "ratio": generator / both},
        {"measure": f"{tag}: peak memory of the DAG process", "value": peak_gb, "unit": "GB"},
        *({"measure": f"{tag}:   task {name} vs bare fit", "value": value, "unit": "s",
           "ratio": value / both} for name, value in steps.items()),
    ]
    point = {"history_rows": rows, "training_rows": rows_train, "generator_s": generator,
             "point_in_time_join_s": join, "feature_tables_s": tables, "dag_wall_s": wall,
             "bare_fit_s": both, "peak_memory_gb": peak_gb,
             "dag_vs_bare_fit": wall / both, "join_vs_bare_fit": join / both,
             "generator_vs_bare_fit": generator / both}
    return measured, point


def main() -> None:
    rows: list[dict] = []
    scaling: list[dict] = []
    for size in SIZES:  # reported after each size, so a later size that fails keeps the earlier
        try:
            measured, point = measure(size)
        except (RuntimeError, subprocess.TimeoutExpired) as error:  # recorded, not hidden
            measured, point = [], {"history_rows": size, "failed": str(error)[:300]}
        rows += measured
        scaling.append(point)
        report("training",
               "bare fit of both candidate models on the same training rows (per size)", rows,
               notes=f"History over {DAYS} days; each run trains on a 14-day window after the "
                     "point-in-time join and split. The DAG adds process start and imports, "
                     "validation, the feature-table rebuild and the join, evaluation "
                     "(permutation importance, latency probe), the champion comparison and "
                     "MLflow logging. `scaling` has one entry per size.",
               extra={"scaling": scaling})
        if "failed" in point:
            break  # a larger size would fail the same way, only later


if __name__ == "__main__":
    main()

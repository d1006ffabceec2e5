"""Time `dojo up` with everything already installed: a fresh state directory (first start,
MLflow migrates its database) and a second start, against a named baseline measured in the
same run: the MLflow tracking server alone, started by hand, until its /health answers.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


from _report import report
from dojo.runtime.launch import standalone_mlflow
from dojo.runtime.sandbox import EnvPatch, sandbox_env
from dojo.runtime.stack import Stack
from dojo.settings import load_settings


def mlflow_alone(tmp: Path) -> float:
    """Seconds from start to /health of one MLflow server, started exactly as `dojo up` does."""
    started = time.perf_counter()
    with standalone_mlflow(tmp / "alone"):
        return time.perf_counter() - started


def timed_up(stack: Stack) -> float:
    started = time.perf_counter()
    stack.up()
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        baseline = mlflow_alone(tmp)
        with EnvPatch(sandbox_env(tmp / "home")):
            stack = Stack(load_settings())
            try:
                first = timed_up(stack)
                stack.down()
                second = timed_up(stack)
            finally:
                stack.down()
    rows = [
        {"measure": "mlflow server alone -> /health (baseline)", "value": baseline, "unit": "s",
         "ratio": 1.0},
        {"measure": "dojo up, fresh state dir", "value": first, "unit": "s",
         "ratio": first / baseline},
        {"measure": "dojo up, second start", "value": second, "unit": "s",
         "ratio": second / baseline},
    ]
    report("stack_up", "mlflow server alone, fresh database", rows,
           notes="All four components are started one after another, each health-gated; "
                 "`make up` adds ~1 s of make/uv checks when already installed.")


if __name__ == "__main__":
    main()

"""The scheduler's preload (dojo/runtime/airflow.py): it must pull in what the training tasks
spend their start on, and it must not import Airflow.

Why: the launcher imports these modules *before* it exports the AIRFLOW__* settings. A module
that pulled in Airflow there would make Airflow read its configuration from the wrong
environment (for one, a default home in ~/airflow); a preload that missed the heavy libraries
would leave every forked task paying their import again (measured: 60 s runs instead of 13 s).
Runs in a fresh interpreter, as the launcher does.
"""

from __future__ import annotations

import json
import subprocess
import sys

from dojo.runtime.airflow import ROLES

PRELOAD = """
import importlib, json, sys
from dojo.runtime.airflow import preload_modules
names = preload_modules()
for name in names:
    importlib.import_module(name)
top = {m.split(".")[0] for m in sys.modules}
print(json.dumps({"modules": names, "top": sorted(top)}))
"""


def test_preload_imports_the_training_libraries_and_not_airflow() -> None:
    result = subprocess.run([sys.executable, "-c", PRELOAD], capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "airflow" not in report["top"]
    assert {"sklearn", "mlflow", "feast", "pandas"} <= set(report["top"])
    assert "dojo.training.pipeline" in report["modules"]


def test_every_airflow_3_service_has_a_role() -> None:
    assert {"api-server", "scheduler", "dag-processor", "triggerer"} <= set(ROLES)

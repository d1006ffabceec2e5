"""The scheduler's preload (dojo/ops/airflow.py) must import cleanly and must not import Airflow.

Why: the launcher imports these modules *before* it exports the AIRFLOW__* settings. A module
that pulled in Airflow there would make Airflow read its configuration from the wrong
environment (for one, a default home in ~/airflow), and a renamed module would stop the
scheduler from starting at all.
"""

from __future__ import annotations

import json
import subprocess
import sys

from dojo.ops.airflow import PRELOAD_MODULES, ROLES


def test_preload_modules_import_without_airflow() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(PRELOAD_MODULES)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' "
        "or m.startswith('airflow.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_every_airflow_3_service_has_a_role() -> None:
    assert {"api-server", "scheduler", "dag-processor", "triggerer"} <= set(ROLES)

"""`dojo demo` end to end, as a subprocess of the real CLI against the session stack.

Why a subprocess: that is how a user runs it over a screen share (`make demo`), so the test
covers the CLI, the settings from DOJO_*, and every step against real components. Why no
COLUMNS: the output must not depend on the width of whoever runs it. On a fresh session stack
the demo trains a champion first, so this takes longer than the ~5 minutes on a warm stack.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dojo.runtime.stack import Stack
from dojo.settings import REPO_ROOT, Settings

DOJO = str(Path(sys.executable).with_name("dojo"))
DEMO_TIMEOUT_S = 1800

# One pattern per step: the evidence a presenter points at.
EVIDENCE = {
    1: [r"\d+ components healthy", r"mlflow: http://", r"prometheus: http://",
        r"airflow: http://", r"champion: fraud v\d+"],
    2: [r"transactions partition \d+ offset \d+: tx_demo_\d+",
        r"before: txn_count_10m=missing", r"after:  txn_count_10m=[1-9]"],
    3: [r"/predict: score [01]\.\d{4} -> (fraud|legit) \(threshold [01]\.\d+\), fraud v\d+ "
        r"\(champion\), \d+ ms", r"predictions partition \d+ offset \d+"],
    4: [r"drift share (0\.(2[5-9]|[3-9]\d)|1\.00); drifted: .*amount",
        r"Alertmanager: DojoDataDrift active",
        r"webhook: DojoDataDrift -> (triggered|cooling_down)",
        r"Airflow fraud_training / \S+: success", r"gate verdict: (passed|failed)"],
    5: [r"The canary (promoted v\d+ to champion|rolled v\d+ back)", r"gate (passed|FAILED)"],
    6: [r"The stack is healthy after the tour", r"next: MLflow http://"],
}


def _step_output(output: str, number: int) -> str:
    """The lines of step ``number`` (from its header to the next one)."""
    match = re.search(rf"Step {number}/6:.*?(?=\nStep {number + 1}/6:|\nDemo done)", output,
                      re.DOTALL)
    assert match, f"no step {number} in the output:\n{output[-6000:]}"
    return match.group(0)


@pytest.mark.timeout(DEMO_TIMEOUT_S + 120)
def test_demo_tours_the_platform_and_leaves_it_healthy(healthy_stack: Settings) -> None:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    done = subprocess.run([DOJO, "demo"], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"the demo failed:\n{output[-8000:]}"
    for number, patterns in EVIDENCE.items():
        step = _step_output(done.stdout, number)
        for pattern in patterns:
            assert re.search(pattern, step), f"step {number} lacks /{pattern}/:\n{step}"
    assert "every step showed its evidence" in done.stdout
    print(re.findall(r"Demo done in [\d.]+ min", done.stdout))  # the duration, with -s
    states = Stack(healthy_stack).status()
    assert not [s.name for s in states if s.state in {"stopped", "unhealthy"}], states

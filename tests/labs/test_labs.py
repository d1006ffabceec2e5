"""Every ready lab, run end to end the way `make lab-NN` runs it, against a real local stack.

Why a subprocess of the real CLI: this is the path a learner takes (`make lab-NN` calls
`dojo lab run NN`), so the test covers the catalog, the runner, the step environment and the
commands the README prints. Exit code 3 means the machine lacks a prerequisite (a Docker
engine, a cluster): that becomes a skip with the runner's own reason, never a pass.

Why not in numeric order, and one lab twice: learners re-do labs and do them out of order, all
on one stack. Each lab must set up the state it checks (or check only what it created), so the
labs run newest first here, then the last one again. Why no COLUMNS: the subprocess has no
terminal, as in CI, and `dojo` output must not depend on the width of whoever runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dojo.settings import REPO_ROOT
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import LABS_DIR, load_catalog

CATALOG = {lab.id: lab for lab in load_catalog(LABS_DIR)}
READY = [lab_id for lab_id, lab in CATALOG.items() if lab.ready]
# Newest first (18 before 16 before 01 broke all three once), then the last one again in a row.
ORDER = [*reversed(READY), READY[0]]
DOJO = str(Path(sys.executable).with_name("dojo"))
LAB_TIMEOUT_S = 900


def skip_reason(output: str) -> str:
    """The runner's one-line reason (`skipped: lab NN needs …`)."""
    for line in output.splitlines():
        if line.startswith("skipped:"):
            return line.removeprefix("skipped:").strip()
    return "a prerequisite is missing (exit 3)"


@pytest.mark.parametrize(
    "lab_id", ORDER, ids=[f"{lab_id}-again" if lab_id in ORDER[:i] else lab_id
                          for i, lab_id in enumerate(ORDER)])
def test_lab_runs_green(lab_id: str, request: pytest.FixtureRequest) -> None:
    # Only labs on the local stack get it (a cluster lab runs against the user's cluster):
    # the fixture exports its DOJO_* settings into this process' environment.
    if "stack" in CATALOG[lab_id].needs:
        request.getfixturevalue("healthy_stack")
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    done = subprocess.run(
        [DOJO, "lab", "run", lab_id], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=LAB_TIMEOUT_S, check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode == exit_codes.MISSING_PREREQUISITE:
        reason = skip_reason(output)
        # CI starts a Docker engine (.ci/run): there, a lab that finds none is a failure. No
        # cluster can run on these machines, so a cluster lab may still skip.
        if os.environ.get("CI") == "true" and "Docker" in reason:
            pytest.fail(f"lab {lab_id} found no Docker engine in CI: {reason}")
        pytest.skip(reason)
    assert done.returncode == exit_codes.OK, f"lab {lab_id} failed:\n{output[-6000:]}"
    assert f"lab {lab_id} passed" in output

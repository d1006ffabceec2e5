"""`make cluster-up` / `cluster-down` and the cluster labs on a machine without a cluster.

Why here and not on a cluster: these machines cannot run one (no kind, minikube or API
server), so what is checked is what a learner without the tools sees: one line per missing
tool, saying how to install it, and exit code 3; a bad CLUSTER value is a usage error.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dojo.settings import REPO_ROOT
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import LABS_DIR, load_catalog
from dojo.teaching.labs.prerequisites import check_cluster

SCRIPTS = REPO_ROOT / "platform" / "scripts"
DOJO = str(Path(sys.executable).with_name("dojo"))
CLUSTER_LABS = [lab.id for lab in load_catalog(LABS_DIR) if "cluster" in lab.needs]


def run(args: list[str], path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)


def only_tools(tmp_path: Path, **exit_codes_: int) -> str:
    """A PATH with bash and coreutils, plus fake tools exiting with the given codes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("bash", "sed", "head", "grep", "cat", "dirname", "env"):
        (bin_dir / name).symlink_to(shutil.which(name))
    for name, code in exit_codes_.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(bin_dir)


# shellcheck runs over every script in tests/integration/test_shell_scripts.py.


@pytest.mark.parametrize("cluster", ["kind", "minikube"])
def test_cluster_up_names_every_missing_tool_and_exits_3(tmp_path: Path, cluster: str) -> None:
    done = run(["bash", str(SCRIPTS / "cluster-up.sh"), cluster], path=only_tools(tmp_path))
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["cluster-up"] * 3
    assert "missing docker: install Docker Engine" in lines[0]
    assert "missing kubectl: install it (https://kubernetes.io/docs/tasks/tools/)" in lines[1]
    assert f"missing {cluster}: install it (https://" in lines[2]


def test_cluster_up_tells_a_client_without_an_engine_to_start_it(tmp_path: Path) -> None:
    path = only_tools(tmp_path, docker=1, kubectl=0, kind=0)
    done = run(["bash", str(SCRIPTS / "cluster-up.sh"), "kind"], path=path)
    assert done.returncode == 3
    assert done.stderr.strip() == ("cluster-up: missing docker: the client is here but no "
                                   "engine answers; start it (sudo systemctl start docker)")


@pytest.mark.parametrize("script", ["cluster-up.sh", "cluster-down.sh"])
def test_a_bad_cluster_name_is_a_usage_error(script: str) -> None:
    done = run(["bash", str(SCRIPTS / script), "k3s"])
    assert done.returncode == 2
    assert done.stderr.strip() == \
        f"usage: make {script.removesuffix('.sh')} CLUSTER=kind|minikube (got 'k3s')"


def test_cluster_down_without_the_tool_exits_3(tmp_path: Path) -> None:
    done = run(["bash", str(SCRIPTS / "cluster-down.sh"), "minikube"],
               path=only_tools(tmp_path))
    assert done.returncode == 3 and "minikube is not installed" in done.stderr


@pytest.mark.parametrize("lab_id", CLUSTER_LABS)
def test_cluster_labs_exit_3_with_one_line_when_there_is_no_cluster(lab_id: str) -> None:
    missing = check_cluster()
    if missing is None:
        pytest.skip("this machine has a cluster: tests/labs runs the lab itself")
    done = run([DOJO, "lab", "run", lab_id])
    assert done.returncode == exit_codes.MISSING_PREREQUISITE, done.stdout + done.stderr
    skipped = [line for line in (done.stdout + done.stderr).splitlines()
               if line.startswith("skipped:")]
    assert skipped == [f"skipped: lab {lab_id} {missing.reason}"]


def test_the_three_kubernetes_labs_need_a_cluster() -> None:
    assert {"04", "10", "19"} <= set(CLUSTER_LABS)

"""checkov, the policy linter, passes on every kustomization a user applies.

Why checkov runs in uv's tool environment and not from the lock: it pins termcolor below 2.4
and Airflow 3.3 needs 3.0 or later, so the two cannot share one environment. `uv tool run`
installs the pinned checkov into uv's cache once (from PyPI) and reuses it afterwards; every
package of that environment is pinned in k8s/checkov-requirements.txt, so what runs is what
was tested.
Accepted exceptions are written next to what they excuse: per object as `checkov.io/skipN`
annotations, and the three that hold for every object in k8s/.checkov.yaml, with reasons.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from dojo.settings import REPO_ROOT
from k8s_support import KUSTOMIZATIONS, render

CHECKOV = "checkov==3.3.30"
CHECKOV_PINS = REPO_ROOT / "k8s" / "checkov-requirements.txt"
UV = str(Path(sys.executable).with_name("uv"))


def run_checkov(folder: Path) -> dict:
    done = subprocess.run(
        [UV, "tool", "run", "--from", CHECKOV, "--with-requirements", str(CHECKOV_PINS),
         "checkov", "--config-file",
         str(REPO_ROOT / "k8s" / ".checkov.yaml"), "--directory", str(folder),
         "--output", "json"],
        capture_output=True, text=True, timeout=900, check=False)
    assert done.stdout.strip(), f"checkov printed nothing (exit {done.returncode}):\n" \
                                f"{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report


def test_every_kustomization_passes_the_policy_linter(tmp_path: Path) -> None:
    for path in KUSTOMIZATIONS:
        target = tmp_path / (path.replace("/", "-") + ".yaml")
        target.write_text(yaml.safe_dump_all(render(path), sort_keys=False))
    summary = run_checkov(tmp_path)
    failed = [f"{c['check_id']} {c['resource']} ({c['check_name']})"
              for c in summary["results"]["failed_checks"]]
    assert failed == []
    assert summary["summary"]["passed"] > 1000  # the checks did run on the objects


def test_the_linter_fails_a_root_container(tmp_path: Path) -> None:
    """The same run refuses the model server once its pod may run as root."""
    objects = [yaml.safe_load(yaml.safe_dump(o)) for o in render("base")]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    pod["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    (tmp_path / "root.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    failed = {c["check_id"] for c in run_checkov(tmp_path)["results"]["failed_checks"]}
    assert {"CKV_K8S_23"} <= failed  # "Minimize the admission of root containers"

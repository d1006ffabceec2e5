"""Lab 09 end to end: `dojo cloud plan` writes both clouds' resources, checked by their SDKs.

Slow tier because google-cloud-aiplatform takes ~10 s to import; nothing here reaches a cloud.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dojo.settings import load_settings
from dojo.teaching.cloud.clouds import build_plan
from dojo.teaching.cloud.plan import PlanError


def test_every_checked_vertex_resource_builds_its_aiplatform_message() -> None:
    resources = build_plan("vertex", load_settings(serving_routing="canary",
                                                   serving_canary_share=0.2))
    checked = [r for r in resources if r.checked_by]
    assert len(checked) >= 6
    for resource in checked:
        resource.validate()
    endpoint = next(r for r in resources if r.name == "endpoint").body
    assert endpoint["traffic_split"] == {"champion": 80, "challenger": 20}
    unchecked = [r for r in resources if not r.checked_by]
    assert all(r.note.startswith("unchecked") for r in unchecked)


def test_an_unknown_nested_vertex_field_is_rejected() -> None:
    job = next(r for r in build_plan("vertex", load_settings()) if r.name == "training-job")
    body = copy.deepcopy(job.body)
    body["job_spec"]["worker_pool_specs"][0]["machine_spec"]["machine_typo"] = "n2"
    with pytest.raises(PlanError, match="machine_typo"):
        job.check(body)


def run_dojo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dojo.cli", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, **(env or {})})


def test_the_cli_writes_and_checks_both_plans(tmp_path: Path) -> None:
    result = run_dojo("cloud", "plan", "--out", str(tmp_path),
                      env={"DOJO_SERVING_ROUTING": "canary"})
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.rglob("*.json"))
    assert {f.parent.name for f in files} == {"vertex", "sagemaker"}
    config = json.loads((tmp_path / "sagemaker" / "endpoint-config.json").read_text())
    assert config["checked_by"].startswith("botocore")
    assert [v["VariantName"] for v in config["body"]["ProductionVariants"]] \
        == ["champion", "challenger"]
    assert f"{len(files)} resources written to {tmp_path}" in " ".join(result.stdout.split())


def test_a_bad_cloud_name_is_one_line_and_exit_2() -> None:
    result = run_dojo("cloud", "plan", "--cloud", "azure")
    assert result.returncode == 2
    assert "--cloud must be one of vertex, sagemaker or all" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

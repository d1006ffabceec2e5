"""Prometheus: the alert rules pass promtool, and the running server scrapes the stack."""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest

from dojo.runtime.stack import RULES_DIR as RULES
from dojo.settings import Settings


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing: make os-deps")
def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    files = sorted(RULES.glob("*.yml"))
    assert files
    check = subprocess.run(["promtool", "check", "rules", *map(str, files)],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    for test_file in sorted((RULES / "tests").glob("*_test.yml")):
        result = subprocess.run(["promtool", "test", "rules", test_file.name], cwd=test_file.parent,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_the_stack_and_loaded_the_rules(healthy_stack: Settings) -> None:
    base = f"http://{healthy_stack.host}:{healthy_stack.prometheus_port}"
    deadline = time.monotonic() + 30
    up: dict[str, str] = {}
    while time.monotonic() < deadline:
        result = httpx.get(f"{base}/api/v1/query", params={"query": "up"}).json()["data"]["result"]
        up = {item["metric"]["job"]: item["value"][1] for item in result}
        if up.get("prometheus") == "1" and up.get("alertmanager") == "1":
            break
        time.sleep(0.5)
    assert up.get("prometheus") == "1" and up.get("alertmanager") == "1", up
    rules = httpx.get(f"{base}/api/v1/rules").json()["data"]["groups"]
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert "DojoScrapeTargetDown" in names

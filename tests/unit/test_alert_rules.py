"""Every alert rule is actionable: a severity Alertmanager routes, a summary, and a runbook_url
that resolves to a file of this repository (and to a heading in it, when it names one).
(promtool checks and unit-tests the rules in tests/integration/test_prometheus.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dojo.runtime.stack import RULES_DIR
from dojo.settings import REPO_ROOT

RULES = [rule for path in sorted(RULES_DIR.glob("*.yml"))
         for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
SEVERITIES = {"page", "ticket"}


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in markdown.splitlines() if line.startswith("#")}


def test_every_alert_the_issue_asks_for_exists() -> None:
    names = {rule["alert"] for rule in RULES}
    assert {"DojoServingLatencyHigh", "DojoServingErrorRate", "DojoModelNotReady",
            "DojoNoPredictions", "DojoConsumerLag", "DojoDlqRate", "DojoFeaturesStale",
            "DojoDataDrift", "DojoPerformanceDrop", "DojoScrapeTargetDown"} <= names


@pytest.mark.parametrize("rule", RULES, ids=[rule["alert"] for rule in RULES])
def test_alert_has_severity_summary_and_a_runbook_in_the_repo(rule: dict) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"]
    target, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    path = REPO_ROOT / target
    assert path.is_file(), f"{rule['alert']}: runbook {target} is not a file of the repository"
    if anchor:
        assert anchor in _anchors(path.read_text()), f"{rule['alert']}: no heading #{anchor}"


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.yml")), ids=lambda p: p.name)
def test_every_rule_file_has_promtool_tests(path: Path) -> None:
    tests = RULES_DIR / "tests" / f"{path.stem}_test.yml"
    assert tests.is_file()
    spec = yaml.safe_load(tests.read_text())
    tested = {case["alertname"] for test in spec["tests"] for case in test["alert_rule_test"]}
    fired = {case["alertname"] for test in spec["tests"] for case in test["alert_rule_test"]
             if case.get("exp_alerts")}
    quiet = {case["alertname"] for test in spec["tests"] for case in test["alert_rule_test"]
             if not case.get("exp_alerts")}
    names = {rule["alert"] for group in yaml.safe_load(path.read_text())["groups"]
             for rule in group["rules"]}
    assert names <= tested and names <= fired and names <= quiet, \
        "every rule needs a firing and a not-firing case"

"""The Grafana dashboards in the repository: valid JSON wired to the provisioned datasource,
every PromQL expression accepted by promtool, and every panel of the platform overview
showing data from the session stack's Prometheus once the stack is under traffic.

Grafana itself is not packaged for these machines; what a dashboard can get wrong is its JSON
and its queries, and both are checked here against the real Prometheus.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from dojo.runtime.waiting import wait_until
from dojo.settings import REPO_ROOT, Settings

sys.path.insert(0, str(Path(__file__).parents[1]))
from integration.stack_traffic import ensure_champion, score

GRAFANA = REPO_ROOT / "docker" / "compose" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PLATFORM = GRAFANA / "dashboards" / "platform.json"


def _exprs(path: Path) -> list[tuple[str, str]]:
    board = json.loads(path.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"]
            for target in panel["targets"]]


def test_dashboards_are_valid_and_use_the_provisioned_datasource() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" /
                                  "prometheus.yml").read_text())["datasources"]
    uids = {d["uid"] for d in datasources}
    seen = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] not in seen, f"{path.name}: duplicate uid"
        seen.add(board["uid"])
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in board["panels"]:
            assert panel["title"] and panel["targets"], panel
            assert panel["datasource"]["uid"] in uids, (path.name, panel["title"])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing: make os-deps")
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:check:{i}", "expr": expr}
             for i, (_, expr) in enumerate(e for path in DASHBOARDS for e in _exprs(path))]
    file = tmp_path / "dashboard_queries.yml"
    file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    check = subprocess.run(["promtool", "check", "rules", str(file)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_platform_panel_shows_data_under_traffic(healthy_stack: Settings) -> None:
    settings = healthy_stack
    ensure_champion(settings, "2025-06-20", "2025-06-21")
    # the serving panels need traffic, the drift panels a monitor run over it
    assert score(settings, 250, seed=14, prefix="dash-") == {200: 250}
    monitor = f"http://{settings.host}:{settings.monitor_port}"
    run = httpx.post(f"{monitor}/run", timeout=300).json()
    assert run["status"] == "ok", run
    base = f"http://{settings.host}:{settings.prometheus_port}/api/v1/query"

    def empty_panels() -> list[str]:
        return [f"{title}: {expr}" for title, expr in _exprs(PLATFORM)
                if not httpx.get(base, params={"query": expr}).json()["data"]["result"]]

    waited = wait_until(empty_panels, 60, done=lambda missing: not missing, first_pause_s=2.0)
    assert waited.value == [], "panels without data under traffic"

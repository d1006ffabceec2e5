"""The Kubernetes copies of the alert rules and Grafana files match their one source each."""

from __future__ import annotations

from pathlib import Path

from dojo.runtime import k8s_files


def test_copies_match_their_sources() -> None:
    assert k8s_files.differences() == [], (
        "k8s/infra/synced/ is out of step with its sources: run `make k8s-sync`")


def test_every_rule_file_and_dashboard_has_a_copy() -> None:
    planned = {path.as_posix() for path in k8s_files.planned()}
    rules = sorted(p.name for p in k8s_files.RULES_DIR.glob("*.yml"))
    assert rules and {f"prometheus-rules/{name}" for name in rules} <= planned
    assert any(path.startswith("grafana-dashboards/") and path.endswith(".json")
               for path in planned)


def test_sync_repairs_an_edited_copy_and_drops_a_stray_file(tmp_path: Path) -> None:
    k8s_files.sync(tmp_path)
    assert k8s_files.differences(tmp_path) == []
    rules = next((tmp_path / "prometheus-rules").iterdir())
    rules.write_text(rules.read_text() + "# edited by hand\n")
    (tmp_path / "prometheus-rules" / "old.yml").write_text("groups: []\n")
    found = k8s_files.differences(tmp_path)
    assert f"differs prometheus-rules/{rules.name}" in found
    assert "stale prometheus-rules/old.yml" in found
    changed = k8s_files.sync(tmp_path)
    assert sorted(changed) == sorted(found)
    assert k8s_files.differences(tmp_path) == []
    assert not (tmp_path / "prometheus-rules" / "old.yml").exists()


def test_the_kustomization_lists_every_copy() -> None:
    files = k8s_files.planned()
    kustomization = files[Path("kustomization.yaml")].decode()
    for path in files:
        if path.name != "kustomization.yaml":
            assert f"- {path.as_posix()}\n" in kustomization

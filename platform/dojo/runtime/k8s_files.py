"""Copies of the alert rules and the Grafana dashboard for the Kubernetes manifests.

Why copies: each file has one source in the repository (the rules beside the local stack's
Prometheus, the dashboard beside compose's Grafana), but kustomize refuses to read a file
outside the folder it builds (its load restrictor). So `make k8s-sync` (``python -m
dojo.runtime.k8s_files``) copies the sources into ``k8s/infra/synced/`` and writes that folder's
kustomization, one ConfigMap per kind of file; a unit test fails, naming the command, when a
copy differs from its source or a source has no copy. Edit the sources, never the copies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dojo.settings import REPO_ROOT

SYNCED_DIR = REPO_ROOT / "k8s" / "infra" / "synced"
RULES_DIR = Path(__file__).parent / "templates" / "rules"
GRAFANA_DIR = REPO_ROOT / "docker" / "compose" / "grafana"

# ConfigMap name -> (source folder, file pattern); each ConfigMap is one folder of copies.
SOURCES: dict[str, tuple[Path, str]] = {
    "prometheus-rules": (RULES_DIR, "*.yml"),
    "grafana-dashboards": (GRAFANA_DIR / "dashboards", "*.json"),
    "grafana-datasources": (GRAFANA_DIR / "provisioning" / "datasources", "*.yml"),
    "grafana-dashboard-providers": (GRAFANA_DIR / "provisioning" / "dashboards", "*.yml"),
}

HEADER = """\
# Written by `make k8s-sync` (dojo/runtime/k8s_files.py): do not edit. The files in this folder
# are copies of their sources (alert rules: platform/dojo/runtime/templates/rules/; Grafana:
# docker/compose/grafana/); edit those, then run `make k8s-sync`.
"""


def planned() -> dict[Path, bytes]:
    """Every file of ``k8s/infra/synced/`` as it should be, path relative to that folder."""
    files: dict[Path, bytes] = {}
    generators = []
    for name, (source, pattern) in SOURCES.items():
        copies = sorted(source.glob(pattern))
        for path in copies:
            files[Path(name) / path.name] = path.read_bytes()
        listed = "".join(f"      - {name}/{path.name}\n" for path in copies)
        generators.append(f"  - name: {name}\n    files:\n{listed}")
    files[Path("kustomization.yaml")] = (
        HEADER + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "configMapGenerator:\n" + "".join(generators)).encode()
    return files


def differences(root: Path = SYNCED_DIR) -> list[str]:
    """What differs between the planned copies and the folder (empty when in step)."""
    want = planned()
    have = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()} \
        if root.is_dir() else {}
    found = [f"missing {path}" for path in sorted(set(want) - set(have))]
    found += [f"stale {path}" for path in sorted(set(have) - set(want))]
    found += [f"differs {path}" for path in sorted(set(want) & set(have))
              if want[path] != have[path]]
    return found


def sync(root: Path = SYNCED_DIR) -> list[str]:
    """Make the folder equal to the plan; return what changed."""
    changed = differences(root)
    want = planned()
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and path.relative_to(root) not in want:
                path.unlink()
    for relative, content in want.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
    return changed


def main() -> int:
    changed = sync()
    where = SYNCED_DIR.relative_to(REPO_ROOT)
    if changed:
        print("\n".join(changed))
        print(f"synced {len(changed)} file(s) into {where}/; "
              "check them with `kubectl kustomize k8s/overlays/kind`")
    else:
        print(f"{where}/ already matches its sources; nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())

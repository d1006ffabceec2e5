"""Rendering the kustomizations under k8s/ and reading what they declare (for tests/integration).

Why render with the real `kubectl kustomize`: it is what `kubectl apply -k` (and so
`make cluster-up` and the labs) applies; a hand-rolled merge could pass while kubectl fails.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from dojo.settings import REPO_ROOT

K8S = REPO_ROOT / "k8s"
OVERLAYS = ("kind", "minikube", "full")
DRILLS = tuple(sorted(p.name for p in (K8S / "drills").iterdir() if p.is_dir()))
# Every kustomization a user applies: the overlays, their parts, lab 10's load, lab 19's drills.
KUSTOMIZATIONS = (*(f"overlays/{o}" for o in OVERLAYS), "base", "infra", "metrics-adapter",
                  "load", *(f"drills/{d}" for d in DRILLS))
KUBERNETES_VERSION = "1.32.0"  # kind's node image in k8s/overlays/kind/kind-cluster.yaml
POD_OWNERS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


@cache
def render(path: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize k8s/<path>` as a tuple of objects."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is required to build the manifests (https://kubernetes.io/docs/tasks/tools/)"
    done = subprocess.run([kubectl, "kustomize", str(K8S / path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, f"kubectl kustomize k8s/{path} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def find(objects: tuple[dict, ...], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


@dataclass(frozen=True)
class Workload:
    """A pod template and where it came from (a controller, or Airflow's task pod file)."""

    owner: str
    labels: dict[str, str]
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return self.labels.get("app.kubernetes.io/name", self.owner)

    def containers(self, init: bool = True) -> list[dict]:
        return [*(self.spec.get("initContainers", []) if init else []),
                *self.spec.get("containers", [])]

    def ports(self) -> dict[str | int, int]:
        """Port names and numbers -> number."""
        found: dict[str | int, int] = {}
        for container in self.containers(init=False):
            for port in container.get("ports", []):
                found[port["containerPort"]] = port["containerPort"]
                if "name" in port:
                    found[port["name"]] = port["containerPort"]
        return found


def workloads(objects: tuple[dict, ...]) -> Iterator[Workload]:
    """Every pod the objects would run, including Airflow's task pods (a file in a ConfigMap)."""
    for obj in objects:
        if obj["kind"] in POD_OWNERS:
            template = obj["spec"]["template"]
            yield Workload(f"{obj['kind']}/{obj['metadata']['name']}",
                           template["metadata"].get("labels", {}), template["spec"])
        if obj["kind"] == "ConfigMap":
            for key, text in (obj.get("data") or {}).items():
                if key.endswith(".yaml") and "kind: Pod" in text:
                    pod = yaml.safe_load(text)
                    yield Workload(f"ConfigMap/{obj['metadata']['name']}/{key}",
                                   pod["metadata"].get("labels", {}), pod["spec"])


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels only, which is all these manifests use) matches labels."""
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())

"""One resource of a cloud plan, how it is checked, and how a plan is written to disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class PlanError(ValueError):
    """A generated resource that the cloud SDK's own types reject."""


@dataclass(frozen=True)
class Resource:
    """A managed-cloud resource, as the body of the API call that would create it."""

    cloud: str
    name: str  # file stem, e.g. "endpoint-config"
    kind: str  # what the cloud calls it, e.g. "SageMaker CreateEndpointConfig"
    replaces: str  # the local component it stands in for
    body: dict[str, Any]
    check: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)
    checked_by: str | None = None  # the SDK type that validated it; None = no type on PyPI
    note: str = ""

    def validate(self) -> None:
        """Raise PlanError when the SDK's type rejects the body (no-op without a type)."""
        if self.check is not None:
            self.check(self.body)


def write_plan(resources: list[Resource], out_dir: Path) -> list[Path]:
    """One JSON file per resource, under out_dir/<cloud>/; returns the paths written."""
    written = []
    for resource in resources:
        path = out_dir / resource.cloud / f"{resource.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"kind": resource.kind, "replaces": resource.replaces,
                    "checked_by": resource.checked_by, "body": resource.body}
        path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
        written.append(path)
    return written

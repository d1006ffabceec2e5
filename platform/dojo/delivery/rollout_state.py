"""Where a rollout stands, on disk under DOJO_HOME, so `dojo rollout status` works from any
process (the rollout runs in one terminal, status is asked from another, or after a crash).

Why a file written whole and renamed: a reader never sees half a state, and the last state of
a rollout survives the process that ran it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUNNING, PROMOTED, ROLLED_BACK = "running", "promoted", "rolled_back"
PENDING, PASSED, FAILED = "pending", "passed", "failed"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Step:
    name: str  # shadow, canary 10%, canary 50%, full
    mode: str  # shadow | canary | full
    share: float  # share of users the challenger answers (0 in shadow)
    status: str = PENDING
    started: str | None = None
    finished: str | None = None
    gates: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RolloutState:
    model: str
    version: str  # the challenger being rolled out
    champion: str  # the champion when the rollout started (kept for rollback)
    status: str = RUNNING
    steps: list[Step] = field(default_factory=list)
    message: str = ""
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=now)
    updated: str = field(default_factory=now)

    @property
    def current(self) -> Step | None:
        """The step running now, else the last one that ran."""
        started = [s for s in self.steps if s.started]
        return started[-1] if started else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RolloutState:
        data = json.loads(text)
        steps = [Step(**step) for step in data.pop("steps")]
        return cls(steps=steps, **data)


def state_path(home: Path) -> Path:
    return home / "rollout" / "state.json"


def save(home: Path, state: RolloutState) -> None:
    state.updated = now()
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    tmp.replace(path)


def load(home: Path) -> RolloutState | None:
    path = state_path(home)
    if not path.exists():
        return None
    return RolloutState.from_json(path.read_text())


def still_running(state: RolloutState) -> bool:
    """Marked running and its process is alive (a killed rollout is not running)."""
    if state.status != RUNNING:
        return False
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

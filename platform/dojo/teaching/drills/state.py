"""Which drill is running on this machine, since when, and how many hints were shown.

Why on disk: `dojo drill start`, `hint` and `check` are separate commands, often minutes apart,
so the engine remembers the active drill in ``DOJO_HOME/drills/active.json``. This file only
steers the engine (one drill at a time, the next hint); ``check`` never reads it to decide
whether the fault is fixed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dojo.settings import Settings


@dataclass
class ActiveDrill:
    """The drill in progress."""

    name: str
    started_at: float = field(default_factory=time.time)
    hints_shown: int = 0


def state_file(settings: Settings) -> Path:
    return settings.home / "drills" / "active.json"


def load_active(settings: Settings) -> ActiveDrill | None:
    """The active drill, or None (an unreadable file counts as none: reset clears it anyway)."""
    path = state_file(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ActiveDrill(name=str(data["name"]), started_at=float(data["started_at"]),
                           hints_shown=int(data.get("hints_shown", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_active(settings: Settings, active: ActiveDrill) -> None:
    path = state_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(active), indent=2) + "\n", encoding="utf-8")


def clear_active(settings: Settings) -> None:
    state_file(settings).unlink(missing_ok=True)

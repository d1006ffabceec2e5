"""Which drills a game day injected, since when, and when each was first seen fixed.

Why a file next to the single drill's ``active.json``: `dojo gameday start`, `dojo drill
check NAME` and `dojo gameday report` run minutes apart, and the report check must still know
which faults were injected after `dojo gameday reset` (the postmortem is written after
recovery), so reset keeps the finished game day in ``last-gameday.json``. As with single drills,
this file only steers the engine; whether a fault is fixed is always observed, never read here.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dojo.settings import Settings


@dataclass
class GameDayDrill:
    """One injected fault: hints shown, and seconds from the start to its first passing check."""

    name: str
    hints_shown: int = 0
    fixed_after: float | None = None


@dataclass
class GameDay:
    """The game day in progress (or the last one, after reset)."""

    drills: list[GameDayDrill]
    started_at: float = field(default_factory=time.time)

    @property
    def names(self) -> list[str]:
        return [drill.name for drill in self.drills]

    def find(self, name: str) -> GameDayDrill | None:
        return next((drill for drill in self.drills if drill.name == name), None)

    def number_of(self, name: str) -> int:
        """1-based: faults are called by number until the learner names them."""
        return self.names.index(name) + 1

    @property
    def restored_after(self) -> float | None:
        """Seconds to restore service: the last fault's fix, once every fault was fixed."""
        times = [drill.fixed_after for drill in self.drills]
        return None if any(t is None for t in times) else max(t for t in times if t is not None)


def gameday_file(settings: Settings) -> Path:
    return settings.home / "drills" / "gameday.json"


def last_gameday_file(settings: Settings) -> Path:
    return settings.home / "drills" / "last-gameday.json"


def _load(path: Path) -> GameDay | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        drills = [GameDayDrill(name=str(d["name"]), hints_shown=int(d.get("hints_shown", 0)),
                               fixed_after=None if d.get("fixed_after") is None
                               else float(d["fixed_after"]))
                  for d in data["drills"]]
        return GameDay(drills=drills, started_at=float(data["started_at"])) if drills else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_gameday(settings: Settings) -> GameDay | None:
    """The running game day, or None (an unreadable file counts as none, as for one drill)."""
    return _load(gameday_file(settings))


def load_last_gameday(settings: Settings) -> GameDay | None:
    """The running game day, else the last one reset on this machine, else None."""
    return load_gameday(settings) or _load(last_gameday_file(settings))


def save_gameday(settings: Settings, gameday: GameDay) -> None:
    path = gameday_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(gameday), indent=2) + "\n", encoding="utf-8")


def finish_gameday(settings: Settings) -> None:
    """Forget the running game day, keeping it as the last one for the report check."""
    path = gameday_file(settings)
    if path.exists():
        path.replace(last_gameday_file(settings))

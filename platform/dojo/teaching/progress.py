"""What this machine has verified: labs run green, drills fixed, interview questions reviewed.

Why a small JSON file under ``settings.home``: progress belongs to one checkout on one machine
(`make clean` forgets it together with the rest of the local state), it must survive between
terminal sessions, and a person should be able to read it with ``cat``. Writes go to a
temporary file first and are renamed into place, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SECTIONS: tuple[str, ...] = ("labs", "drills", "interview")


class ProgressError(RuntimeError):
    """The progress file exists but cannot be read; the message names the file."""


def now_iso() -> str:
    """A UTC timestamp to the second, the one format every record uses."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def short_time(stamp: str | None) -> str:
    """``2026-01-02T03:04:05+00:00`` as ``2026-01-02 03:04 UTC`` for tables; ``-`` if none."""
    if not stamp:
        return "-"
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def load_progress(path: Path) -> dict[str, dict[str, Any]]:
    """Read the progress file; a missing file is an empty record, a corrupt one an error."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, json.JSONDecodeError) as error:
            raise ProgressError(f"cannot read progress file {path}: {error}") from None
        if not isinstance(data, dict):
            raise ProgressError(f"progress file {path} does not hold a JSON object")
    return {section: dict(data.get(section) or {}) for section in SECTIONS}


def save_progress(path: Path, data: dict[str, dict[str, Any]]) -> None:
    """Write atomically: a temporary file in the same directory, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _record(path: Path, section: str, key: str, entry: dict[str, Any]) -> dict[str, Any]:
    data = load_progress(path)
    stamped = {"verified_at": now_iso(), **entry}
    data[section][key] = stamped
    save_progress(path, data)
    return stamped


def record_lab(path: Path, lab_id: str, seconds: float) -> dict[str, Any]:
    """A lab ran green end to end on this machine."""
    return _record(path, "labs", lab_id, {"seconds": round(seconds, 1)})


def record_drill(path: Path, name: str, seconds: float | None = None) -> dict[str, Any]:
    """A drill's check passed after it had been started (the learner fixed the fault)."""
    entry = {} if seconds is None else {"seconds": round(seconds, 1)}
    return _record(path, "drills", name, entry)


def interview_key(lab_id: str, number: int) -> str:
    """One spelling for a question's key, e.g. ``01/Q3``."""
    return f"{lab_id}/Q{number}"


def record_interview(path: Path, lab_id: str, number: int) -> dict[str, Any]:
    """The learner compared an answer with the key points and marked it reviewed."""
    return _record(path, "interview", interview_key(lab_id, number), {})

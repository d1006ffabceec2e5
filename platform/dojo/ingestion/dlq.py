"""Dead-letter queue conventions: what a rejected event carries, and its metric label.

Why keep the original bytes: a DLQ is for people to inspect and replay. Re-encoding the event
would hide exactly the defect (bad JSON, a wrong type) that sent it there, so the value is the
bytes as consumed and the reason travels in a header.
"""

from __future__ import annotations

import re
from typing import Any

REASON_HEADER = "dlq.reason"
SOURCE_HEADERS = ("dlq.source.topic", "dlq.source.partition", "dlq.source.offset")
LATE_REASON_LABEL = "late_event"
_SLUG = re.compile(r"[^a-z0-9_.]+")


def dlq_headers(reason: str, record: Any) -> list[tuple[str, bytes]]:
    """Headers of a DLQ message: the reason, and where the original came from (for replay)."""
    return [
        (REASON_HEADER, reason.encode()),
        (SOURCE_HEADERS[0], str(record.topic).encode()),
        (SOURCE_HEADERS[1], str(record.partition).encode()),
        (SOURCE_HEADERS[2], str(record.offset).encode()),
    ]


def reason_label(reason: str) -> str:
    """A bounded metric label for a reason: the field at fault, or the reason's kind.

    The full reason ("amount: Input should be greater than 0") stays in the header; the label
    ("amount") keeps `dojo_stream_dlq_total` to one series per field, whatever the values.
    """
    if reason.startswith("late event"):
        return LATE_REASON_LABEL
    head = reason.split(":", 1)[0] if ":" in reason else reason
    return _SLUG.sub("_", head.strip().lower()).strip("_")[:40] or "unknown"


def reason_of(headers: list[tuple[str, bytes]] | None) -> str | None:
    """The reason header of a consumed DLQ message (None if absent)."""
    for key, value in headers or []:
        if key == REASON_HEADER:
            return value.decode(errors="replace")
    return None

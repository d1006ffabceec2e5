"""Is an incident report filled in? The check behind `dojo gameday report FILE`.

Why a check at all: a postmortem is where an incident turns into prevention, and the usual way
it fails is a template with half its sections left as they were. This cannot judge whether
the analysis is right; it catches what a reviewer would bounce at a glance: a section missing,
empty or still holding the template's ``<PLACEHOLDER>`` text, a timeline without times, a
fault the game day injected that the root cause never names, a follow-up without an owner.
It is a pure function of the text, so it is tested without a stack.
"""

from __future__ import annotations

import re
from pathlib import Path

from dojo.settings import REPO_ROOT

TEMPLATE = REPO_ROOT / "labs" / "21-capstone-game-day" / "incident-report.md"

# In the template's order; each is a `## ` heading. Matched by prefix, case-insensitively, so
# "## Root cause and contributing factors" counts as "Root cause".
SECTIONS = ("Summary", "Impact", "Timeline", "Detection", "Root cause", "Fix",
            "What went well", "What went badly", "Follow-ups")

PLACEHOLDER = re.compile(r"<[A-Z][^<>a-z]*>")  # <UPPER CASE>, never an HTML tag like <br>
COMMENT = re.compile(r"<!--.*?-->", flags=re.DOTALL)
CLOCK_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+(.*)$", flags=re.MULTILINE)
OWNER = re.compile(r"\bowner\s*:\s*\S", flags=re.IGNORECASE)


def sections(text: str) -> dict[str, str]:
    """Body of each ``## `` section, keyed by its heading; HTML comments (the template's
    guidance) removed, so a section holding only guidance counts as empty."""
    found: dict[str, str] = {}
    heading: str | None = None
    lines: list[str] = []
    for line in COMMENT.sub("", text).splitlines():
        if line.startswith("## "):
            if heading is not None:
                found[heading] = "\n".join(lines).strip()
            heading, lines = line[3:].strip(), []
        elif heading is not None:
            lines.append(line)
    if heading is not None:
        found[heading] = "\n".join(lines).strip()
    return found


def _section(found: dict[str, str], name: str) -> str | None:
    return next((body for heading, body in found.items()
                 if heading.lower().startswith(name.lower())), None)


def problems(text: str, drills: list[str]) -> list[str]:
    """One line per problem in the report; empty when it is filled in.

    ``drills`` are the faults the game day injected: each must be named in the root cause."""
    found = sections(text)
    out: list[str] = []
    filled: dict[str, str] = {}  # the sections worth reading further
    for name in SECTIONS:
        body = _section(found, name)
        if body is None:
            out.append(f"section '{name}' is missing (a '## {name}' heading)")
        elif not body:
            out.append(f"section '{name}' is empty")
        elif placeholder := PLACEHOLDER.search(body):
            shown = placeholder.group(0)
            shown = shown if len(shown) <= 40 else shown[:36] + "…>"
            out.append(f"section '{name}' still holds the template's {shown}")
        else:
            filled[name] = body
    if "Timeline" in filled and not CLOCK_TIME.search(filled["Timeline"]):
        out.append("section 'Timeline' has no time of day (HH:MM): when did each thing happen?")
    if "Root cause" in filled:
        cause = filled["Root cause"].lower()
        out.extend(f"section 'Root cause' does not name {drill}, a fault the game day injected"
                   for drill in drills if drill.lower() not in cause)
    if "Follow-ups" in filled:
        items = LIST_ITEM.findall(filled["Follow-ups"])
        if not items:
            out.append("section 'Follow-ups' has no list item: one '- ' line per action")
        out.extend(f"follow-up '{item.strip()[:60]}' has no owner (add 'owner: NAME')"
                   for item in items if not OWNER.search(item))
    return out


def check_file(path: Path, drills: list[str]) -> list[str]:
    """``problems`` of a report on disk; an unreadable file is one problem, not a crash."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [f"cannot read {path}: {error.__class__.__name__}"]
    return problems(text, drills)

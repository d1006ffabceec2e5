"""Interview cards, read from the `## Interview questions` section of each lab README.

Why parse the README instead of keeping a question file: the lab is where the learner meets the
question, next to the system that answers it; one source means the quiz can never ask a question
the lab no longer covers. The format a README must follow::

    ## Interview questions

    **Q1. Why does the stream processor commit offsets only after writing features?**

    Key points:
    - at-least-once delivery: a crash between write and commit replays, never loses
    - writes are idempotent by transaction_id, so a replay does not double count
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dojo.teaching.labs.catalog import LABS_DIR

SECTION = "## Interview questions"
_QUESTION = re.compile(r"^\*\*Q(\d+)\.\s+(.+?)\*\*\s*$")
_KEY_POINTS = re.compile(r"^key points:?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")


class InterviewFormatError(ValueError):
    """A README's interview section does not follow the format; the message names the line."""


@dataclass(frozen=True)
class Question:
    lab_id: str
    number: int
    text: str
    key_points: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.lab_id}/Q{self.number}"


def _section_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the interview section: from its heading to the next `## `."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        return []
    body = []
    for offset, line in enumerate(lines[start + 1:], start=start + 2):
        if line.startswith("## "):
            break
        body.append((offset, line))
    return body


def parse_questions(text: str, lab_id: str, source: str = "README.md") -> list[Question]:
    """Every question with its key points; a question without key points is an error."""
    questions: list[Question] = []
    current: tuple[int, str, int] | None = None  # number, text, line
    points: list[str] = []
    in_points = False

    def close() -> None:
        if current is None:
            return
        number, question, line = current
        if not points:
            raise InterviewFormatError(f"{source}:{line}: Q{number} has no `Key points:` bullets")
        questions.append(Question(lab_id, number, question, tuple(points)))

    for line_no, line in _section_lines(text):
        stripped = line.strip()
        found = _QUESTION.match(stripped)
        if found:
            close()
            current = (int(found.group(1)), found.group(2).strip(), line_no)
            points, in_points = [], False
        elif _KEY_POINTS.match(stripped):
            in_points = current is not None
        elif in_points and (bullet := _BULLET.match(line)):
            points.append(bullet.group(1).strip())
        elif in_points and points and line.startswith("  ") and stripped:
            points[-1] = f"{points[-1]} {stripped}"  # a bullet wrapped onto the next line
    close()
    numbers = [q.number for q in questions]
    if numbers != list(range(1, len(numbers) + 1)):
        raise InterviewFormatError(f"{source}: questions are numbered {numbers}, expected 1..n")
    return questions


def load_questions(labs_dir: Path = LABS_DIR, lab_id: str | None = None) -> list[Question]:
    """Questions of every lab README (or one lab's), in lab order."""
    found: list[Question] = []
    pattern = f"{lab_id}-*/README.md" if lab_id else "[0-9][0-9]-*/README.md"
    for readme in sorted(labs_dir.glob(pattern)):
        text = readme.read_text(encoding="utf-8")
        found.extend(parse_questions(text, readme.parent.name[:2], str(readme)))
    return found

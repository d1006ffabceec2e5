"""Interview cards, read from the `## Interview questions` section of each lab README.

Why parse the README instead of keeping a question file: the lab is where the learner meets the
question, next to the system that answers it; one source means the quiz can never ask a question
the lab no longer covers. The format a README must follow::

    ## Interview questions

    **Q1. Why does the stream processor commit offsets only after writing features?**

    Topic: streaming

    Key points:
    - at-least-once delivery: a crash between write and commit replays, never loses
    - writes are idempotent by transaction_id, so a replay does not double count

Each drill's runbook, ``labs/drills/<name>.md``, ends with the same section: a fault you have
just fixed is the best moment to rehearse how you would detect, fix and prevent it at work.
Their keys are ``drill/<name>/Q<n>``; the ``drill/`` prefix keeps them apart from lab numbers
and deck names whatever a drill is called.

Questions interviews ask that no lab teaches yet (federated learning, say) live in decks,
``docs/interview-cards/<deck>.md``, in the same format; their keys are ``<deck>/Q<n>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dojo.settings import REPO_ROOT
from dojo.teaching.interview_topics import UnknownTopicError, check_topic
from dojo.teaching.labs.catalog import LABS_DIR

CARDS_DIR = REPO_ROOT / "docs" / "interview-cards"
DRILL_PREFIX = "drill/"
# Runbooks live in ``<labs dir>/drills``; this page indexes them and is not a drill.
_NOT_RUNBOOKS = frozenset({"README"})

SECTION = "## Interview questions"
_QUESTION = re.compile(r"^\*\*Q(\d+)\.\s+(.+?)\*\*\s*$")
_QUESTION_START = re.compile(r"^\*\*Q\d+\.\s")
_TOPIC = re.compile(r"^topic:\s*(.+?)\s*$", re.IGNORECASE)
_KEY_POINTS = re.compile(r"^key points:?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")


class InterviewFormatError(ValueError):
    """A README's interview section does not follow the format; the message names the line."""


class UnknownDrillError(ValueError):
    """No runbook by that drill name; the message lists the drills that have one."""


@dataclass(frozen=True)
class Question:
    lab_id: str  # a lab's two digits, `drill/<name>` for a drill, or a deck's name
    number: int
    text: str
    key_points: tuple[str, ...]
    topic: str

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
    return _join_wrapped_questions(body)


def _join_wrapped_questions(body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """A bold question wrapped over several lines becomes one line (at its first line number);
    without this, the wrapped question was skipped and its key points joined the previous one."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for line_no, line in body:
        stripped = line.strip()
        if pending is not None:
            pending = (pending[0], f"{pending[1]} {stripped}")
            if stripped.endswith("**") or not stripped:
                joined.append(pending)
                pending = None
        elif _QUESTION_START.match(stripped) and not stripped.endswith("**"):
            pending = (line_no, stripped)
        else:
            joined.append((line_no, line))
    if pending is not None:
        joined.append(pending)
    return joined


def parse_questions(text: str, lab_id: str, source: str = "README.md") -> list[Question]:
    """Every question with its key points; a question without key points is an error."""
    questions: list[Question] = []
    current: tuple[int, str, int] | None = None  # number, text, line
    points: list[str] = []
    topic: str | None = None
    in_points = False

    def close() -> None:
        if current is None:
            return
        number, question, line = current
        if not points:
            raise InterviewFormatError(f"{source}:{line}: Q{number} has no `Key points:` bullets")
        if topic is None:
            raise InterviewFormatError(f"{source}:{line}: Q{number} has no `Topic:` line")
        questions.append(Question(lab_id, number, question, tuple(points), topic))

    for line_no, line in _section_lines(text):
        stripped = line.strip()
        found = _QUESTION.match(stripped)
        named = _TOPIC.match(stripped)
        if found:
            close()
            current = (int(found.group(1)), found.group(2).strip(), line_no)
            points, topic, in_points = [], None, False
        elif _QUESTION_START.match(stripped):
            raise InterviewFormatError(f"{source}:{line_no}: close the bold question with `**`")
        elif named and current is not None and not in_points:
            try:
                topic = check_topic(named.group(1))
            except UnknownTopicError as error:
                raise InterviewFormatError(f"{source}:{line_no}: {error}") from None
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


def drill_runbooks(labs_dir: Path = LABS_DIR) -> dict[str, Path]:
    """Drill name -> runbook page, sorted by name. Read from the folder, not the drill
    registry, so the quiz never imports the code that breaks the stack."""
    pages = sorted((labs_dir / "drills").glob("*.md"))
    return {page.stem: page for page in pages if page.stem not in _NOT_RUNBOOKS}


def load_drill_questions(labs_dir: Path = LABS_DIR, drill: str | None = None) -> list[Question]:
    """Questions of every drill runbook by name (or one drill's); UnknownDrillError for a name
    with no runbook."""
    runbooks = drill_runbooks(labs_dir)
    if drill is not None:
        if drill not in runbooks:
            raise UnknownDrillError(f"no drill named {drill!r} "
                                    f"(drills: {', '.join(runbooks) or 'none'})")
        runbooks = {drill: runbooks[drill]}
    found: list[Question] = []
    for name, page in runbooks.items():
        text = page.read_text(encoding="utf-8")
        found.extend(parse_questions(text, f"{DRILL_PREFIX}{name}", str(page)))
    return found


def load_questions(labs_dir: Path = LABS_DIR, lab_id: str | None = None,
                   cards_dir: Path = CARDS_DIR) -> list[Question]:
    """Questions of every lab README in lab order, then every drill's, then every deck's (or
    one lab's only)."""
    found: list[Question] = []
    pattern = f"{lab_id}-*/README.md" if lab_id else "[0-9][0-9]-*/README.md"
    for readme in sorted(labs_dir.glob(pattern)):
        text = readme.read_text(encoding="utf-8")
        found.extend(parse_questions(text, readme.parent.name[:2], str(readme)))
    if lab_id is None:
        found.extend(load_drill_questions(labs_dir))
        for deck in sorted(cards_dir.glob("*.md")):
            text = deck.read_text(encoding="utf-8")
            found.extend(parse_questions(text, deck.stem, str(deck)))
    return found


def select_topic(questions: list[Question], topic: str) -> list[Question]:
    """The questions of one topic; UnknownTopicError (listing the valid ones) for a bad name."""
    wanted = check_topic(topic)
    return [q for q in questions if q.topic == wanted]

"""docs/interview-coverage.md stays true: every question row names at least one card, every card
it names exists (a lab renumbering its questions breaks this test, not the learner's trust), and
each question set's stated count is the number of rows under it."""

from __future__ import annotations

import re

from dojo.settings import REPO_ROOT
from dojo.teaching.interview import load_questions

COVERAGE = REPO_ROOT / "docs" / "interview-coverage.md"
SECTION = re.compile(r"^## .*\((\d+) questions\)$")
ROW = re.compile(r"^\| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \|$")
CARD = re.compile(r"\[((?:\d\d|drill/[a-z0-9-]+|[a-z][a-z-]*)/Q\d+)\]")
# The question sets the table covers, with their sizes; changing one is a deliberate edit here.
EXPECTED_COUNTS = [60, 27, 10]


def question_sections() -> dict[str, list[tuple[str, str]]]:
    """Section heading -> (row id, card cell) of each question row under it."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    for line in COVERAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line if SECTION.match(line) else None
            if current:
                sections[current] = []
        elif current and (row := ROW.match(line)) and row.group(1) not in {"#", "---"}:
            sections[current].append((row.group(1), row.group(3)))
    return sections


def test_each_question_set_has_the_stated_number_of_rows() -> None:
    sections = question_sections()
    stated = [int(SECTION.match(heading).group(1)) for heading in sections]  # type: ignore[union-attr]
    assert stated == EXPECTED_COUNTS
    for heading, rows in sections.items():
        ids = [ident for ident, _ in rows]
        assert len(rows) == int(SECTION.match(heading).group(1)), heading  # type: ignore[union-attr]
        assert len(set(ids)) == len(ids), f"{heading}: a question id appears twice"
    total = f"| total | {sum(EXPECTED_COUNTS)} | yes |"
    assert total in COVERAGE.read_text(encoding="utf-8")


def test_every_question_maps_to_cards_that_exist() -> None:
    keys = {q.key for q in load_questions()}
    missing = []
    for heading, rows in question_sections().items():
        for ident, cell in rows:
            cards = CARD.findall(cell)
            assert cards, f"{heading} {ident}: no card"
            missing += [f"{ident}: {card}" for card in cards if card not in keys]
    assert missing == []


def test_every_card_reference_on_the_page_resolves() -> None:
    keys = {q.key for q in load_questions()}
    referenced = set(CARD.findall(COVERAGE.read_text(encoding="utf-8")))
    assert referenced and referenced <= keys, sorted(referenced - keys)
    assert any(card.startswith("drill/") for card in referenced), "drill cards are read too"


def test_the_planned_marks_follow_the_labs_status() -> None:
    """A lab link reads `[NN](../labs/NN-name/) (planned)` exactly while that lab is planned."""
    from dojo.teaching.labs.catalog import LABS_DIR, load_catalog

    ready = {lab.id: lab.ready for lab in load_catalog(LABS_DIR)}
    links = re.findall(r"\[(\d\d)\]\(\.\./labs/[^)]+\)( \(planned\))?",
                       COVERAGE.read_text(encoding="utf-8"))
    assert links
    wrong = sorted({lab for lab, planned in links if bool(planned) == ready[lab]})
    assert wrong == [], f"labs whose (planned) mark disagrees with lab.yaml: {wrong}"

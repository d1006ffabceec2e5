"""Interview cards: parsed from each lab README (one source), quizzed through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli.interview import app
from dojo.settings import Settings
from dojo.teaching.interview import (
    CARDS_DIR,
    InterviewFormatError,
    load_questions,
    parse_questions,
    select_topic,
)
from dojo.teaching.interview_topics import TOPICS, UnknownTopicError
from dojo.teaching.labs.catalog import LABS_DIR, Lab, load_catalog

DECK = """# Cards no lab teaches yet

## Interview questions

**Q1. What is federated learning?**

Topic: training

Key points:
- training where the data lives
- only updates travel
"""

README = """# Lab 01

## Verify

**Q9. Not a question: outside the section?**

## Interview questions

**Q1. Why commit offsets after the write?**

Topic: streaming

Key points:
- at-least-once: a crash replays,
  never loses
- idempotent writes by transaction_id

**Q2. What is a DLQ
for?**

Topic: Streaming

Key points:

* keeps bad events out of the main path
* the reason travels with the event

## Clean up

- not a key point
"""


def test_parse_questions_and_key_points() -> None:
    questions = parse_questions(README, "01")
    assert [q.key for q in questions] == ["01/Q1", "01/Q2"]
    assert questions[0].text == "Why commit offsets after the write?"
    assert questions[0].key_points == (
        "at-least-once: a crash replays, never loses", "idempotent writes by transaction_id"
    )
    assert questions[1].key_points[-1] == "the reason travels with the event"
    assert questions[1].text == "What is a DLQ for?", "a question wrapped over two lines"
    assert [q.topic for q in questions] == ["streaming", "streaming"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("## Interview questions\n\n**Q1. Why?**\n\nNo points here.\n", "no `Key points:`"),
        ("## Interview questions\n\n**Q2. Why?**\n\nTopic: serving\n\nKey points:\n- a\n",
         "numbered [2]"),
        ("## Interview questions\n\n**Q1. Why?**\n\nKey points:\n- a\n", "no `Topic:` line"),
        ("## Interview questions\n\n**Q1. Why?**\n\nTopic: cooking\n\nKey points:\n- a\n",
         "unknown topic 'cooking'; valid topics: fundamentals, "),
        ("## Interview questions\n\n**Q1. Why\n\nTopic: serving\n\nKey points:\n- a\n",
         "close the bold question"),
    ],
)
def test_malformed_sections_are_errors(text: str, message: str) -> None:
    with pytest.raises(InterviewFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_questions(text, "01")


@pytest.mark.parametrize("lab", load_catalog(LABS_DIR), ids=lambda lab: lab.id)
def test_every_lab_has_interview_questions_planned_ones_included(lab: Lab) -> None:
    """A planned lab's README is a stub that says so, but its cards are real: the interview
    topic exists before the walkthrough does."""
    assert lab.readme.is_file(), f"lab {lab.id} has no README"
    questions = load_questions(LABS_DIR, lab.id)
    assert len(questions) >= 3, f"lab {lab.id} needs at least three questions"
    assert all(len(q.key_points) >= 2 for q in questions)
    assert all(q.text.endswith("?") for q in questions), "each card asks a question"
    if not lab.ready:
        readme = lab.readme.read_text()
        assert "**Planned: " in readme and f"`make lab-{lab.id}` exits 4" in readme, \
            f"lab {lab.id}'s README must say it is not built yet"


def test_every_card_has_a_known_topic_and_topic_selects_exactly_those() -> None:
    cards = load_questions()
    assert cards, "the repository has interview cards"
    assert {q.topic for q in cards} <= set(TOPICS)
    assert len({q.key for q in cards}) == len(cards), "card keys are unique"
    for topic in TOPICS:
        selected = select_topic(cards, topic)
        assert selected, f"topic {topic} has no cards"
        assert {q.key for q in selected} == {q.key for q in cards if q.topic == topic}
    assert sum(len(select_topic(cards, topic)) for topic in TOPICS) == len(cards)
    with pytest.raises(UnknownTopicError, match="valid topics: "):
        select_topic(cards, "cooking")


def test_decks_hold_cards_of_their_own_topic_and_answer_every_question() -> None:
    decks = sorted(CARDS_DIR.glob("*.md"))
    assert decks, "docs/interview-cards has decks"
    for deck in decks:
        assert deck.stem in TOPICS, f"{deck.name}: a deck is named after its topic"
        cards = parse_questions(deck.read_text(), deck.stem, str(deck))
        assert len(cards) >= 3 and all(q.topic == deck.stem for q in cards)
        assert all(q.text.endswith("?") and len(q.key_points) >= 3 for q in cards)


@pytest.fixture
def labs_dir(tmp_path: Path) -> str:
    folder = tmp_path / "labs" / "01-fixture"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(README)
    return str(tmp_path / "labs")


@pytest.fixture
def cards_dir(tmp_path: Path) -> str:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "training.md").write_text(DECK)
    return str(folder)


def test_decks_load_after_the_labs_but_not_for_one_lab(labs_dir: str, cards_dir: str) -> None:
    everything = load_questions(Path(labs_dir), cards_dir=Path(cards_dir))
    assert [q.key for q in everything] == ["01/Q1", "01/Q2", "training/Q1"]
    one_lab = load_questions(Path(labs_dir), "01", Path(cards_dir))
    assert [q.key for q in one_lab] == ["01/Q1", "01/Q2"]


def test_topic_option_quizzes_only_that_topic(labs_dir: str, cards_dir: str,
                                              isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--topic", "training", "--list", "--labs-dir", labs_dir,
                                      "--cards-dir", cards_dir])
    assert result.exit_code == 0, result.output
    assert "training/Q1 What is federated learning?" in result.output
    assert "01/Q1" not in result.output and "1 questions" in result.output


def test_list_topics_counts_every_topic_on_fixed_lines(labs_dir: str, cards_dir: str,
                                                       isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--list-topics", "--labs-dir", labs_dir,
                                      "--cards-dir", cards_dir])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(TOPICS) + 1, "one line per topic, then the total"
    counts = {line.split()[0]: int(line.split()[1]) for line in lines[:-1]}
    assert counts == {**dict.fromkeys(TOPICS, 0), "streaming": 2, "training": 1}
    assert lines[-1].startswith("3 questions.")


def test_unknown_topic_is_one_line_naming_the_valid_ones(labs_dir: str, cards_dir: str,
                                                         isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--topic", "cooking", "--labs-dir", labs_dir,
                                      "--cards-dir", cards_dir])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0, result.output
    assert "unknown topic 'cooking'; valid topics: " + ", ".join(TOPICS) in result.output


def test_list_prints_questions_and_key_points(labs_dir: str, isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--list", "--labs-dir", labs_dir])
    assert result.exit_code == 0, result.output
    assert "01/Q1 Why commit offsets after the write?" in result.output
    assert "- idempotent writes by transaction_id" in result.output


def test_quiz_records_only_what_was_marked_reviewed(labs_dir: str,
                                                   isolated_env: Settings) -> None:
    answers = "offsets after writes\ny\n\nn\n"  # Q1: an answer, reviewed; Q2: Enter, not
    result = CliRunner().invoke(app, ["--lab", "1", "--labs-dir", labs_dir], input=answers)
    assert result.exit_code == 0, result.output
    assert "you said: offsets after writes" in result.output
    assert "Key points a strong answer covers" in result.output
    assert "Marked 1 question(s) reviewed" in result.output
    record = json.loads(isolated_env.progress_path.read_text())
    assert set(record["interview"]) == {"01/Q1"}
    again = CliRunner().invoke(app, ["--unreviewed", "--list", "--labs-dir", labs_dir])
    assert "01/Q2" in again.output and "01/Q1" not in again.output


def test_quiz_stops_cleanly_when_input_ends(labs_dir: str, isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--labs-dir", labs_dir], input="")
    assert result.exit_code == 0 and "Marked 0 question(s)" in result.output


def test_unknown_lab_is_one_line_and_exit_2(labs_dir: str, isolated_env: Settings) -> None:
    result = CliRunner().invoke(app, ["--lab", "07", "--labs-dir", labs_dir])
    assert result.exit_code == 2 and "no interview questions in lab 07" in result.output


def test_lab_and_topic_together_select_both(labs_dir: str, cards_dir: str,
                                            isolated_env: Settings) -> None:
    both = ["--lab", "01", "--labs-dir", labs_dir, "--cards-dir", cards_dir]
    result = CliRunner().invoke(app, [*both, "--topic", "Streaming", "--list"])
    assert result.exit_code == 0 and "2 questions" in result.output, result.output
    empty = CliRunner().invoke(app, [*both, "--topic", "training"])
    assert empty.exit_code == 2
    assert "no interview questions in lab 01 and topic training" in empty.output

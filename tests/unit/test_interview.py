"""Interview cards: parsed from each lab README (one source), quizzed through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dojo.cli.interview import app
from dojo.settings import Settings
from dojo.teaching.interview import InterviewFormatError, load_questions, parse_questions
from dojo.teaching.labs.catalog import LABS_DIR, load_catalog

README = """# Lab 01

## Verify

**Q9. Not a question: outside the section?**

## Interview questions

**Q1. Why commit offsets after the write?**

Key points:
- at-least-once: a crash replays,
  never loses
- idempotent writes by transaction_id

**Q2. What is a DLQ for?**

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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("## Interview questions\n\n**Q1. Why?**\n\nNo points here.\n", "no `Key points:`"),
        ("## Interview questions\n\n**Q2. Why?**\n\nKey points:\n- a\n", "numbered [2]"),
    ],
)
def test_malformed_sections_are_errors(text: str, message: str) -> None:
    with pytest.raises(InterviewFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_questions(text, "01")


def test_every_ready_lab_has_interview_questions() -> None:
    for lab in load_catalog(LABS_DIR):
        if lab.ready:
            questions = load_questions(LABS_DIR, lab.id)
            assert len(questions) >= 3, f"lab {lab.id} needs at least three questions"
            assert all(len(q.key_points) >= 2 for q in questions)
            assert all(q.text.endswith("?") for q in questions), "each card asks a question"


@pytest.fixture
def labs_dir(tmp_path: Path) -> str:
    folder = tmp_path / "labs" / "01-fixture"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(README)
    return str(tmp_path / "labs")


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

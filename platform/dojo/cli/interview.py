"""`dojo interview`: the interview questions of the labs, drills and decks as flash cards in the
terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from dojo.cli.common import console, fail, settings_or_exit
from dojo.teaching.interview import (
    CARDS_DIR,
    InterviewFormatError,
    Question,
    UnknownDrillError,
    load_drill_questions,
    load_questions,
    select_topic,
)
from dojo.teaching.interview_topics import (
    TOPICS,
    UnknownTopicError,
    check_topic,
    count_by_topic,
)
from dojo.teaching.labs import exit_codes
from dojo.teaching.labs.catalog import LABS_DIR, CatalogError, normalise_id
from dojo.teaching.progress import ProgressError, load_progress, record_interview

app = typer.Typer(help="Practise the interview questions of the labs and drills: answer, compare, "
                       "mark reviewed.")


def _print_list(questions: list[Question], reviewed: dict[str, dict]) -> None:
    for q in questions:
        mark = "[green]✓[/]" if q.key in reviewed else " "
        console.print(f"{mark} [bold]{q.key}[/] {q.text}", soft_wrap=True)
        for point in q.key_points:
            console.print(f"     - {point}", soft_wrap=True, markup=False)


def _print_topics(questions: list[Question]) -> None:
    """One line per topic: name, card count, what it covers. Fixed columns, never wrapped, so
    the output reads the same in any terminal, a pipe or a lab check."""
    counts = count_by_topic(questions)
    width = max(len(topic) for topic in TOPICS)
    for topic, count in counts.items():
        console.print(f"{topic:<{width}}  {count:>3}  {TOPICS[topic]}", soft_wrap=True,
                      markup=False)
    console.print(f"{len(questions)} questions. Next: `dojo interview --topic <TOPIC>`.",
                  soft_wrap=True)


def _ask(prompt: str) -> str | None:
    """One line from the learner, or None when input ended (a pipe ran dry, Ctrl-D)."""
    try:
        return console.input(prompt)
    except EOFError:
        return None


def _quiz(questions: list[Question], progress_file: Path) -> int:
    """Ask each question; returns how many were marked reviewed."""
    marked = 0
    for index, q in enumerate(questions, start=1):
        console.print(Panel(Text(q.text, style="bold"), title=f"{q.key} ({index}/{len(questions)})",
                            title_align="left"))
        answer = _ask("Your answer in a line (or just Enter to see the key points): ")
        if answer is None:
            break
        if answer.strip():
            console.print(Text(f"you said: {answer.strip()}", style="italic"))
        console.print("[bold]Key points a strong answer covers:[/]")
        for point in q.key_points:
            console.print(Text(f"  - {point}"), soft_wrap=True)
        verdict = _ask("reviewed? [y/n] ")
        if verdict is None:
            break
        if verdict.strip().lower() in {"y", "yes"}:
            record_interview(progress_file, q.lab_id, q.number)
            marked += 1
    return marked


@app.callback(invoke_without_command=True)
def interview(
    lab: Annotated[str | None, typer.Option("--lab", metavar="NN",
                                            help="Only this lab's questions.")] = None,
    drill: Annotated[str | None, typer.Option(
        "--drill", metavar="NAME", help="Only this drill's questions (see `dojo drill list`)."
    )] = None,
    topic: Annotated[str | None, typer.Option(
        "--topic", metavar="TOPIC", help="Only this topic's questions (see --list-topics)."
    )] = None,
    list_topics: Annotated[bool, typer.Option("--list-topics", help="Print how many questions "
                                              "each topic has, no quiz.")] = False,
    list_only: Annotated[bool, typer.Option("--list", help="Print questions and key points, "
                                            "no quiz.")] = False,
    unreviewed: Annotated[bool, typer.Option("--unreviewed", help="Skip questions already "
                                             "marked reviewed.")] = False,
    labs_dir: Annotated[Path, typer.Option("--labs-dir", hidden=True)] = LABS_DIR,
    cards_dir: Annotated[Path, typer.Option("--cards-dir", hidden=True)] = CARDS_DIR,
) -> None:
    """Quiz yourself: each question, your one-line answer, the key points, reviewed or not."""
    settings = settings_or_exit()
    if lab and drill:
        raise fail("choose --lab or --drill, not both (--topic combines with either)",
                   code=exit_codes.BAD_INPUT)
    try:
        lab_id = normalise_id(lab) if lab else None
        questions = (load_drill_questions(labs_dir, drill) if drill
                     else load_questions(labs_dir, lab_id, cards_dir))
        if list_topics:
            _print_topics(questions)
            return
        if topic:
            topic = check_topic(topic)  # one spelling from here on: `Streaming` -> streaming
            questions = select_topic(questions, topic)
        reviewed = load_progress(settings.progress_path)["interview"]
    except (CatalogError, InterviewFormatError, ProgressError, UnknownDrillError,
            UnknownTopicError) as error:
        raise fail(str(error), code=exit_codes.BAD_INPUT) from None
    if not questions:
        where = " and ".join(part for part in (
            f"lab {lab_id}" if lab_id else "", f"drill {drill}" if drill else "",
            f"topic {topic}" if topic else "",
        ) if part) or str(labs_dir)
        raise fail(f"no interview questions in {where}", code=exit_codes.BAD_INPUT)
    if unreviewed:
        questions = [q for q in questions if q.key not in reviewed]
        if not questions:
            console.print("Every question here is marked reviewed. Next: drop --unreviewed "
                          "to go through them again, or try `dojo drill list`.")
            return
    if list_only:
        _print_list(questions, reviewed)
        console.print(f"{len(questions)} questions. Next: `dojo interview"
                      f"{' --lab ' + lab_id if lab_id else ''}"
                      f"{' --drill ' + drill if drill else ''}"
                      f"{' --topic ' + topic if topic else ''}` to quiz "
                      "yourself.", soft_wrap=True)
        return
    marked = _quiz(questions, settings.progress_path)
    console.print(f"\nMarked {marked} question(s) reviewed, recorded in {settings.progress_path}. "
                  "Next: `dojo progress` shows what you have covered.")

"""The demo's runner: a failing step says what to show instead, the tour goes on, and the exit
code says whether every step showed its evidence. No stack: the steps here are stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dojo.settings import Settings
from dojo.teaching.demo import tour
from dojo.teaching.demo_runner import (
    DemoContext,
    Outcome,
    Reporter,
    Step,
    StepFailed,
    StepResult,
    exit_code,
    run_tour,
)


class Collect(Reporter):
    def __init__(self) -> None:
        self.started: list[int] = []
        self.outcomes: list[Outcome] = []

    def start(self, number: int, total: int, step: Step) -> None:
        self.started.append(number)

    def done(self, number: int, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


def _ok(ctx: DemoContext) -> StepResult:
    ctx.found["ran"] = ctx.found.get("ran", 0) + 1
    return StepResult("it works", ["offset 42"])


def _refuses(_ctx: DemoContext) -> StepResult:
    raise StepFailed("the alert did not fire within 3 min", "show `dojo monitor report`")


def _crashes(_ctx: DemoContext) -> StepResult:
    raise ConnectionError("broker gone")


@pytest.fixture
def context() -> DemoContext:
    return DemoContext(Settings())


def test_every_step_passing_exits_zero(context: DemoContext) -> None:
    reporter = Collect()
    outcomes = run_tour([Step("a", _ok, "-"), Step("b", _ok, "-")], context, reporter)
    assert [o.ok for o in outcomes] == [True, True]
    assert exit_code(outcomes) == 0
    assert context.found["ran"] == 2
    assert reporter.started == [1, 2]


def test_a_failed_step_gives_its_fallback_and_the_tour_continues(context: DemoContext) -> None:
    reporter = Collect()
    steps = [Step("a", _ok, "-"), Step("b", _refuses, "generic"), Step("c", _ok, "-")]
    outcomes = run_tour(steps, context, reporter)
    assert [o.ok for o in outcomes] == [True, False, True]
    failed = outcomes[1]
    assert failed.error == "the alert did not fire within 3 min"
    assert failed.fallback == "show `dojo monitor report`"  # the step's own, not the generic
    assert reporter.outcomes == outcomes
    assert exit_code(outcomes) == 1


def test_an_unexpected_error_uses_the_steps_fallback(context: DemoContext) -> None:
    outcomes = run_tour([Step("a", _crashes, "show `dojo topics`"), Step("b", _ok, "-")],
                        context, Collect())
    assert not outcomes[0].ok
    assert outcomes[0].error == "ConnectionError: broker gone"
    assert outcomes[0].fallback == "show `dojo topics`"
    assert outcomes[1].ok
    assert exit_code(outcomes) == 1


def test_pause_runs_between_steps_only(context: DemoContext) -> None:
    pauses: list[int] = []
    run_tour([Step("a", _ok, "-")] * 3, context, Collect(), pause=lambda: pauses.append(1))
    assert len(pauses) == 2


def test_the_tour_has_six_steps_in_the_order_they_are_told() -> None:
    titles = [step.title for step in tour()]
    assert len(titles) == 6
    assert titles[0].startswith("The stack is up")
    assert "canary" in titles[4]
    assert all(step.fallback.startswith("show") for step in tour())


def test_the_cli_prints_evidence_and_fallbacks_and_exits_non_zero(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dojo.cli import demo as demo_cli

    steps = [Step("first", _ok, "-"), Step("second", _refuses, "-"), Step("third", _ok, "-")]
    monkeypatch.setattr(demo_cli, "tour", lambda: steps)
    app = typer.Typer()
    app.command()(demo_cli.demo)
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 1
    out = result.output
    assert "Step 1/3: first" in out and "Step 3/3: third" in out
    assert "offset 42" in out
    assert "step 2 failed: the alert did not fire within 3 min" in out
    assert "show instead: show `dojo monitor report`" in out
    assert "step(s) 2 failed" in out


def test_interactive_waits_for_enter_and_survives_the_end_of_input(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dojo.cli import demo as demo_cli

    monkeypatch.setattr(demo_cli, "tour", lambda: [Step("a", _ok, "-"), Step("b", _ok, "-")])
    app = typer.Typer()
    app.command()(demo_cli.demo)
    result = CliRunner().invoke(app, ["--interactive"], input="")
    assert result.exit_code == 0, result.output
    assert "Enter for the next step" in result.output
    assert "every step showed its evidence" in result.output


def test_within_the_cool_down_the_canary_step_shows_the_earlier_rollout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second demo within the hour: no new challenger, so step 5 shows the recorded canary
    that judged the version the cool-down holds, and passes."""
    from dojo.delivery import rollout_state as rs
    from dojo.teaching import demo_steps
    from dojo.training import tracking

    context = DemoContext(Settings(home=tmp_path), found={"challenger": "2"})
    state = rs.RolloutState("fraud", "2", "1", status=rs.PROMOTED,
                            steps=[rs.Step("shadow", "shadow", 0.0, rs.PASSED,
                                           gates=[{"message": "error rate 0.0% <= 1.0%"}])],
                            message="v2 is champion for every user")
    rs.save(tmp_path, state)
    monkeypatch.setattr(tracking, "client", lambda settings: object())
    monkeypatch.setattr(tracking, "alias_version",
                        lambda client, name, alias: "2" if alias == tracking.CHAMPION else None)
    result = demo_steps.canary(context)
    assert "the canary that judged v2" in result.say and "promoted." in result.say
    assert "shadow: gate passed: error rate 0.0% <= 1.0%" in result.evidence
    assert "outcome: v2 is champion for every user" in result.evidence


def test_with_no_challenger_and_no_rollout_the_canary_step_fails_with_a_fallback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dojo.teaching import demo_steps
    from dojo.training import tracking

    monkeypatch.setattr(tracking, "client", lambda settings: object())
    monkeypatch.setattr(tracking, "alias_version", lambda client, name, alias: "1")
    outcomes = run_tour([Step("canary", demo_steps.canary, "-")],
                        DemoContext(Settings(home=tmp_path)), Collect())
    assert outcomes[0].error == "no challenger newer than the champion to roll out"
    assert "dojo model list" in outcomes[0].fallback

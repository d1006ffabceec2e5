"""Lab 12's capacity arithmetic: rates, the knee, stage means from real /metrics pages, the plan,
the write-up. Metric pages come from the servers' own metric classes, so a renamed metric fails
here rather than in a lab run."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from dojo.cli.design import app
from dojo.features.stream_metrics import StreamMetrics
from dojo.monitoring.capacity import (
    Measurements,
    PlanInputError,
    Stages,
    Step,
    capacity_plan,
    find_knee,
    load_measurements,
    owned_partitions,
    parse_rates,
    plan_numbers,
    stages_between,
)
from dojo.serving.metrics import ServingMetrics
from dojo.teaching.design_writeup import TEMPLATE, fill, values_for

TARGET_S = 0.1


def step(rate: float, p99_s: float | None, *, ok: int | None = None, achieved: float | None = None,
         request_s: float = 0.02) -> Step:
    sent = int(rate * 4)
    return Step(offered_rps=rate, achieved_rps=rate if achieved is None else achieved, sent=sent,
                ok=sent if ok is None else ok, p50_s=p99_s and p99_s / 4, p99_s=p99_s,
                stages=Stages(sent, request_s, 0.004, 0.006, 3.0))


def measurements(**overrides: object) -> Measurements:
    base = Measurements(latency_target_s=TARGET_S,
                        steps=[step(10, 0.03), step(20, 0.05), step(40, 0.4)], knee_rps=20,
                        partitions=6, group="dojo-stream-processor", members=["m-1"],
                        processor_partitions=list(range(6)), stream_events=2000,
                        stream_drain_s=2.5, stream_busy_eps=1000.0)
    return replace(base, **overrides)


def test_rates_parse_into_an_increasing_ladder() -> None:
    assert parse_rates("10, 20,40.5") == [10.0, 20.0, 40.5]


@pytest.mark.parametrize("text", ["", "10,x", "0,10", "-5", "20,10", "10,10", "nan"])
def test_bad_rates_are_refused_with_the_option_named(text: str) -> None:
    with pytest.raises(PlanInputError, match="--rates"):
        parse_rates(text)


def test_the_knee_is_the_last_step_within_the_objective_before_the_first_past_it() -> None:
    steps = [step(10, 0.03), step(20, 0.05), step(40, 0.4), step(80, 0.05)]
    assert find_knee(steps, TARGET_S).offered_rps == 20  # 80 after a failing 40 does not count
    assert find_knee(list(reversed(steps)), TARGET_S).offered_rps == 20  # order of input
    assert find_knee([step(10, 0.5)], TARGET_S) is None


@pytest.mark.parametrize("bad", [step(20, 0.05, ok=70), step(20, 0.05, achieved=12.0),
                                 step(20, None, ok=0)])
def test_failures_or_a_rate_not_kept_disqualify_a_step(bad: Step) -> None:
    assert not bad.within(TARGET_S)
    assert find_knee([step(10, 0.03), bad], TARGET_S).offered_rps == 10


def test_stages_come_from_the_difference_of_two_scrapes() -> None:
    metrics = ServingMetrics()
    metrics.request_duration.labels("/predict", "POST", "200").observe(5.0)  # before the step
    before = generate_latest(metrics.registry).decode()
    for _ in range(4):
        metrics.request_duration.labels("/predict", "POST", "200").observe(0.03)
    metrics.request_duration.labels("/predict", "POST", "503").observe(2.0)  # not an answer
    for rows in (1, 3):
        metrics.feature_fetch.observe(0.01)
        metrics.model_duration.labels("champion").observe(0.005)
        metrics.model_duration.labels("shadow").observe(1.0)  # off the request path
        metrics.batch_size.observe(rows)
    stages = stages_between(before, generate_latest(metrics.registry).decode())
    assert stages.requests == 4
    assert math.isclose(stages.request_s, 0.03)
    assert math.isclose(stages.feature_fetch_s, 0.01)
    assert math.isclose(stages.model_s, 0.005)
    assert math.isclose(stages.rest_s, 0.015)
    assert math.isclose(stages.rows_per_batch, 2.0)


def test_a_step_without_requests_has_zero_stages_not_a_division_error() -> None:
    page = generate_latest(ServingMetrics().registry).decode()
    stages = stages_between(page, page)
    assert (stages.requests, stages.request_s, stages.rest_s) == (0, 0.0, 0.0)


def test_the_processor_owns_the_partitions_it_keeps_a_lag_gauge_for() -> None:
    metrics = StreamMetrics()
    for partition in (4, 1):
        metrics.lag.labels(topic="transactions", partition=str(partition)).set(0)
    metrics.lag.labels(topic="other", partition="7").set(3)
    assert owned_partitions(generate_latest(metrics.registry).decode()) == [1, 4]


def test_replicas_partitions_and_in_flight_follow_the_measurements() -> None:
    numbers = plan_numbers(measurements(), peak_tps=2000, headroom=0.3)
    assert numbers.replicas == math.ceil(2000 / (20 * 0.7))
    assert math.isclose(numbers.in_flight, 2000 * 0.02)  # Little's law with the server mean
    assert numbers.consumers_needed == math.ceil(2000 / (1000 * 0.7))
    assert plan_numbers(measurements(), 2000, 0.0).replicas == 100
    more = plan_numbers(measurements(), 4000, 0.3)
    assert more.replicas > numbers.replicas and more.consumers_needed > numbers.consumers_needed


def test_the_plan_names_the_measurement_behind_each_number() -> None:
    lines = {line.name: line for line in capacity_plan(measurements(), 2000, 0.3)}
    assert lines["model-server replicas"].value == str(math.ceil(2000 / 14))
    assert "knee 20/s" in lines["model-server replicas"].source
    assert lines["partitions of `transactions`"].value == "6 now: enough"
    small = capacity_plan(measurements(stream_busy_eps=100.0), 2000, 0.3)
    assert any("too few: recreate with >= 29" in line.value for line in small)


def test_a_plan_without_a_knee_or_stream_rate_says_unknown() -> None:
    lines = capacity_plan(measurements(knee_rps=None, stream_busy_eps=None), 2000, 0.3)
    values = {line.name: line.value for line in lines}
    assert values["model-server replicas"] == "unknown"
    assert values["stream consumers"] == "unknown"


@pytest.mark.parametrize(("peak", "headroom", "option"),
                         [(-5, 0.3, "--peak-tps"), (0, 0.3, "--peak-tps"),
                          (math.inf, 0.3, "--peak-tps"), (100, 1.0, "--headroom"),
                          (100, -0.1, "--headroom")])
def test_bad_plan_input_names_the_option(peak: float, headroom: float, option: str) -> None:
    with pytest.raises(PlanInputError, match=option):
        capacity_plan(measurements(), peak, headroom)


def test_a_measurement_file_round_trips_and_a_bad_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(measurements().to_json())
    assert load_measurements(path) == measurements()
    with pytest.raises(PlanInputError, match="dojo design measure"):
        load_measurements(tmp_path / "missing.json")
    path.write_text(json.dumps({"steps": []}))
    with pytest.raises(PlanInputError, match=str(path)):
        load_measurements(path)


def test_the_cli_refuses_bad_input_with_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_HOME", str(tmp_path))
    path = tmp_path / "m.json"
    path.write_text(measurements().to_json())
    runner = CliRunner()
    negative = runner.invoke(app, ["plan", "--peak-tps", "-5", "--from", str(path)])
    missing = runner.invoke(app, ["plan", "--peak-tps", "100", "--from", str(tmp_path / "x")])
    rates = runner.invoke(app, ["measure", "--rates", "40,20"])
    for result in (negative, missing, rates):
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1, result.output
    good = runner.invoke(app, ["plan", "--peak-tps", "2000", "--from", str(path)])
    assert good.exit_code == 0 and "Next:" in good.output


@pytest.mark.parametrize("command", ["plan", "writeup"])
def test_a_bad_peak_is_named_before_the_file_is_looked_for(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_HOME", str(tmp_path))
    result = CliRunner().invoke(app, [command, "--peak-tps", "-5",
                                      "--from", str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --peak-tps must be a number > 0, got -5"


def test_the_writeup_fills_every_placeholder_and_leaves_the_reasoning() -> None:
    text, todos = fill(TEMPLATE.read_text(), values_for(measurements(), 2000, 0.3))
    assert "{{" not in text
    assert f"**{math.ceil(2000 / 14)}** = ceil" in text
    assert "| 40 | 40 | 160/160 |" in text  # the steps table
    assert todos >= 8  # one per reasoning question of the 45 minutes
    with pytest.raises(KeyError, match="unknown_number"):
        fill("{{unknown_number}}", {})


def test_a_step_past_the_objective_says_why() -> None:
    assert step(20, 0.05).why_past(TARGET_S) is None
    assert step(20, 0.05, ok=70).why_past(TARGET_S) == "10 of 80 failed"
    assert "achieved" in step(20, 0.05, achieved=12.0).why_past(TARGET_S)
    assert step(20, 0.3).why_past(TARGET_S) == "p99 over 100 ms"

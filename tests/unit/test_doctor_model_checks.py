"""`dojo doctor`'s model section, from fake drift-monitor /status payloads (nothing started:
httpx's MockTransport answers in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

import dojo.monitoring.doctor_checks as checks
import dojo.runtime.doctor as runtime_doctor
from dojo.cli.main import app
from dojo.monitoring.doctor_checks import model_checks, status_url
from dojo.monitoring.thresholds import DRIFT_SHARE_ALERT, PERFORMANCE_DROP_RATIO
from dojo.runtime.doctor import DoctorLine
from dojo.runtime.stack import RULES_DIR
from dojo.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")


def run(settings: Settings, payload: Any = None, *, status: int = 200,
        error: Exception | None = None) -> dict[str, DoctorLine]:
    def answer(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == status_url(settings)
        if error is not None:
            raise error
        return httpx.Response(status, json=payload)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        lines = model_checks(settings, client)
    assert all(line.section == "model" for line in lines)
    return {line.name: line for line in lines}


def last_run(drift_share: float = 0.0, drifted: tuple[str, ...] = (), pr_auc: float | None = 0.8,
             training: float = 0.82, labelled: int = 400, note: str = "") -> dict[str, Any]:
    ratio = None if pr_auc is None else pr_auc / training
    return {"status": "ok", "drift_share": drift_share, "drifted": list(drifted),
            "performance": {"labelled": labelled, "pr_auc": pr_auc, "training_pr_auc": training,
                            "ratio": ratio, "note": note,
                            "dropped": ratio is not None and ratio < PERFORMANCE_DROP_RATIO}}


def status(last: dict[str, Any] | None, predictions: int = 500, joined: int = 400,
           waiting: int = 3, **extra: Any) -> dict[str, Any]:
    return {"window": {"predictions": predictions, "labels_joined": joined,
                       "labels_waiting": waiting},
            "counters": {}, "reference": "3", "reference_problem": None,
            "intake_problem": None, "last_run": last, **extra}


def test_a_healthy_model_passes_every_line(settings: Settings) -> None:
    lines = run(settings, status(last_run(drift_share=0.125, drifted=("amount",))))
    assert list(lines) == ["performance", "drift", "labels"]
    assert all(line.ok and not line.warn for line in lines.values())
    assert "live PR-AUC 0.800 vs 0.820 in training (98% of it" in lines["performance"].detail
    assert "drift share 0.12, below the alert threshold 0.25; drifted: amount" \
        in lines["drift"].detail
    assert lines["labels"].detail.startswith("400 of 500 predictions in the window have their "
                                             "label (80%); 3 labels wait")


def test_drift_at_the_alert_threshold_names_the_features(settings: Settings) -> None:
    lines = run(settings, status(last_run(drift_share=DRIFT_SHARE_ALERT,
                                          drifted=("amount", "amount_sum_1h"))))
    drift = lines["drift"]
    assert drift.ok and drift.warn  # a ticket, not a page: it does not fail the doctor
    assert "0.25, at or above the alert threshold 0.25" in drift.detail
    assert "drifted: amount, amount_sum_1h" in drift.detail
    assert "dojo monitor report" in drift.look and "#dojodatadrift" in drift.look


def test_a_performance_drop_fails_with_cause_and_runbook(settings: Settings) -> None:
    lines = run(settings, status(last_run(pr_auc=0.41, training=0.82)))
    perf = lines["performance"]
    assert not perf.ok
    assert perf.detail.startswith("dropped: live PR-AUC 0.410 vs 0.820 in training (50% of it, "
                                  "below 80%) on 400 labelled")
    assert perf.cause and "docs/runbooks.md#dojoperformancedrop" in perf.look
    assert "dojo monitor report" in perf.look


def test_no_labels_yet_makes_performance_unknown_not_failed(settings: Settings) -> None:
    note = "12 labelled predictions, 0 frauds: need 100 with both outcomes"
    lines = run(settings, status(last_run(pr_auc=None, labelled=12, note=note), joined=0,
                                 waiting=0))
    perf, labels = lines["performance"], lines["labels"]
    assert perf.ok and perf.warn and perf.detail == f"unknown: {note}"
    assert "labels arrive later" in perf.cause
    assert labels.ok and labels.warn
    assert labels.detail == "none joined yet: 0 of 500 predictions have their label"


def test_no_run_yet_makes_performance_and_drift_unknown(settings: Settings) -> None:
    lines = run(settings, status(None, predictions=0, joined=0, waiting=0))
    assert all(line.ok and line.warn for line in lines.values())
    assert lines["performance"].detail == "unknown: no monitor run on this window yet"
    assert "every 60 s" in lines["performance"].cause
    assert lines["drift"].look == "dojo monitor run"
    assert lines["labels"].detail == "unknown: no predictions in the window yet"


def test_a_run_that_did_not_compare_says_why(settings: Settings) -> None:
    last = {"status": "12 predictions in the window, need 200", "performance": None}
    lines = run(settings, status(last))
    assert lines["drift"].detail == ("unknown: the last run did not compare: 12 predictions in "
                                     "the window, need 200")


def test_an_intake_problem_is_a_failing_line(settings: Settings) -> None:
    lines = run(settings, status(last_run(), intake_problem="NoBrokersAvailable: boom"))
    assert not lines["monitor intake"].ok
    assert "NoBrokersAvailable" in lines["monitor intake"].detail


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"error": httpx.ConnectError("refused")}, "not answering at http://"),
    ({"error": httpx.ReadTimeout("slow")}, "not answering at http://"),
    ({"status": 500, "payload": {"detail": "boom"}}, "answered 500"),
    ({"payload": ["not", "a", "status"]}, "is not its status"),
    ({"payload": {"window": [1, 2], "last_run": None}}, "is not its status"),
])
def test_a_monitor_that_is_down_skips_the_section_and_names_it(
        settings: Settings, kwargs: dict[str, Any], says: str) -> None:
    lines = run(settings, **kwargs)
    assert list(lines) == ["model checks"]
    line = lines["model checks"]
    assert line.ok and line.warn  # the component line above already fails for it
    assert line.detail.startswith("skipped: the drift monitor")
    assert says in line.detail and str(settings.monitor_port) in line.detail
    assert "dojo logs drift-monitor" in line.look


def test_the_thresholds_are_the_alert_rules_numbers() -> None:
    rules = {rule["alert"]: rule["expr"] for group in
             yaml.safe_load((RULES_DIR / "monitoring.yml").read_text())["groups"]
             for rule in group["rules"]}
    assert rules["DojoDataDrift"] == f"dojo_monitor_drift_share >= {DRIFT_SHARE_ALERT}"
    assert rules["DojoPerformanceDrop"] == \
        f"dojo_monitor_performance_ratio < {PERFORMANCE_DROP_RATIO}"


# --- the command: marks and exit code ----------------------------------------------------------
def doctor_output(monkeypatch: pytest.MonkeyPatch, settings: Settings,
                  model: list[DoctorLine]) -> tuple[int, str]:
    for key, value in settings.as_env().items():
        monkeypatch.setenv(key, value)
    component = DoctorLine("broker", True, "metadata OK")
    monkeypatch.setattr(runtime_doctor, "run_doctor", lambda _settings: [component])
    monkeypatch.setattr(checks, "model_checks", lambda _settings: model)
    result = CliRunner().invoke(app, ["doctor"])
    return result.exit_code, result.output


def test_unknown_lines_show_but_do_not_fail_the_doctor(
        monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    unknown = DoctorLine("performance", True, "unknown: no run yet", warn=True, section="model",
                         look="dojo monitor run")
    code, output = doctor_output(monkeypatch, settings, [unknown])
    assert code == 0
    assert "All checks passed. To look at (!, not failures): performance." in output
    assert "unknown: no run yet" in output and "dojo monitor run" in output


def test_a_model_failure_fails_the_doctor(monkeypatch: pytest.MonkeyPatch,
                                          settings: Settings) -> None:
    dropped = DoctorLine("performance", False, "dropped: …", section="model",
                         look="dojo monitor report")
    code, output = doctor_output(monkeypatch, settings, [dropped])
    assert code == 1
    assert "1 problem(s): performance." in output

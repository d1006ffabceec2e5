"""The "model" section of `dojo doctor`: performance, drift and labels, from the drift monitor.

Why here and not in `dojo.runtime.doctor`: the component checks belong to the runtime, the
lowest layer, which must not import monitoring; these lines read the drift monitor's /status
(window sizes and its last run) and its alert thresholds, so they live with the monitor, and
the CLI appends them after the component checks, in the debugging checklist's order: is it
up, is it fast, then is the model still right.

Why from /status and not by running the analysis: the doctor must answer in seconds, and a
run reads the whole window (Evidently, PSI). The last run is at most one interval old
(`DOJO_MONITOR_INTERVAL_S`); `dojo monitor run` makes a fresh one.

Three verdicts per line: ok; failing (a red line with its likely cause and where to look);
and ``warn``, a line to look at that does not fail the doctor: unknown (no run yet, too few
labels) or drift over the alert threshold. Why drift only warns: the doctor fails on what
pages someone, and the alerts say the same (`DojoPerformanceDrop` pages, `DojoDataDrift` is a
ticket): drifted inputs with a model that still performs are a look, not an outage.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx

from dojo.monitoring.thresholds import DRIFT_SHARE_ALERT, PERFORMANCE_DROP_RATIO
from dojo.runtime.doctor import DoctorLine
from dojo.settings import Settings

SECTION = "model"
# The monitor's /status reads two counts from SQLite: answered in milliseconds. Longer means
# it is stuck, and the doctor must not hang with it.
STATUS_TIMEOUT_S = 3.0
REPORT = "dojo monitor report"
PERFORMANCE_RUNBOOK = "docs/runbooks.md#dojoperformancedrop"
DRIFT_RUNBOOK = "docs/runbooks.md#dojodatadrift"


class Unknown(NamedTuple):
    """Why a model line cannot be judged: shown as its detail and its likely cause."""

    detail: str
    cause: str


def status_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.monitor_port}/status"


def model_checks(settings: Settings, client: httpx.Client | None = None) -> list[DoctorLine]:
    """The model lines; one "skipped" line when the monitor does not answer (never raises)."""
    url = status_url(settings)
    try:
        if client is None:
            with httpx.Client(timeout=STATUS_TIMEOUT_S) as own:
                response = own.get(url)
        else:
            response = client.get(url, timeout=STATUS_TIMEOUT_S)
        response.raise_for_status()
        status = response.json()
        if not isinstance(status, dict):
            raise ValueError("not a JSON object")
        return lines_from_status(status, settings.monitor_interval_s)
    except (httpx.HTTPError, ValueError) as error:
        return [_skipped(url, error)]
    except (AttributeError, TypeError) as error:  # a field of another shape (another version)
        return [_skipped(url, ValueError(f"{type(error).__name__}: {error}"))]


def _skipped(url: str, error: Exception) -> DoctorLine:
    if isinstance(error, httpx.TransportError):
        why = f"the drift monitor is not answering at {url} ({type(error).__name__})"
    elif isinstance(error, httpx.HTTPStatusError):
        why = f"the drift monitor answered {error.response.status_code} at {url}"
    else:
        why = f"the drift monitor's answer at {url} is not its status ({error})"
    return DoctorLine(
        "model checks", True, f"skipped: {why}", warn=True, section=SECTION,
        cause="the drift-monitor component is down or starting (see its line above)",
        look="dojo logs drift-monitor   # then: dojo up",
    )


def lines_from_status(status: dict[str, Any], interval_s: float) -> list[DoctorLine]:
    """Performance, drift and labels from a /status payload (pure: the unit tests feed it)."""
    lines: list[DoctorLine] = []
    problem = status.get("intake_problem")
    if problem:
        lines.append(DoctorLine(
            "monitor intake", False, f"cannot read predictions and labels: {problem}",
            cause="the monitor's consumer cannot reach Kafka or its topics",
            look="dojo logs drift-monitor; dojo topics", section=SECTION))
    last = status.get("last_run")
    unknown = _why_unknown(last, status.get("reference_problem"), interval_s)
    lines.append(_performance(last, unknown))
    lines.append(_drift(last, unknown))
    lines.append(_labels(status.get("window") or {}))
    return lines


def _why_unknown(last: Any, reference_problem: Any, interval_s: float) -> Unknown | None:
    """Why the last run compared nothing (None when it did)."""
    if not isinstance(last, dict):
        return Unknown("no monitor run on this window yet",
                       f"the monitor runs every {interval_s:g} s; a window starts with the "
                       "monitor or `dojo monitor reset`")
    if last.get("status") != "ok":
        return Unknown(f"the last run did not compare: {last.get('status') or reference_problem}",
                       "too little traffic in the window, or no champion to compare with")
    return None


def _unknown(name: str, unknown: Unknown) -> DoctorLine:
    return DoctorLine(name, True, f"unknown: {unknown.detail}", warn=True, section=SECTION,
                      cause=unknown.cause, look="dojo monitor run")


def _performance(last: Any, unknown: Unknown | None) -> DoctorLine:
    if unknown is not None:
        return _unknown("performance", unknown)
    perf = last.get("performance") or {}
    live, trained = perf.get("pr_auc"), perf.get("training_pr_auc")
    if live is None:
        return DoctorLine(
            "performance", True, f"unknown: {perf.get('note') or 'no labelled predictions'}",
            warn=True, section=SECTION,
            cause="labels arrive later than predictions (a chargeback takes days); until "
                  "enough have, only drift can warn",
            look=REPORT)
    labelled = perf.get("labelled", 0)
    ratio = perf.get("ratio")
    versus = f"live PR-AUC {live:.3f} vs {trained:.3f} in training" if trained is not None \
        else f"live PR-AUC {live:.3f} (no training PR-AUC logged)"
    share = f" ({ratio:.0%} of it" if ratio is not None else ""
    if perf.get("dropped"):
        return DoctorLine(
            "performance", False,
            f"dropped: {versus}{share}, below {PERFORMANCE_DROP_RATIO:.0%}) on {labelled} "
            "labelled predictions",
            cause="the inputs moved (see the drift line), a feature broke upstream, or fraud "
                  "changed its patterns (concept drift)",
            look=f"{REPORT}; {PERFORMANCE_RUNBOOK}", section=SECTION)
    limit = f"; a drop is below {PERFORMANCE_DROP_RATIO:.0%})" if share else ""
    return DoctorLine("performance", True, f"{versus}{share}{limit} on {labelled} labelled "
                      "predictions", section=SECTION)


def _drift(last: Any, unknown: Unknown | None) -> DoctorLine:
    if unknown is not None:
        return _unknown("drift", unknown)
    share = float(last.get("drift_share") or 0.0)
    drifted = ", ".join(last.get("drifted") or []) or "none"
    if share >= DRIFT_SHARE_ALERT:
        return DoctorLine(
            "drift", True,
            f"drift share {share:.2f}, at or above the alert threshold {DRIFT_SHARE_ALERT:.2f} "
            f"(DojoDataDrift); drifted: {drifted}",
            cause="the input population changed: a new segment, an upstream feature that "
                  "broke, a replayed cohort",
            look=f"{REPORT}; {DRIFT_RUNBOOK}", section=SECTION, warn=True)
    return DoctorLine("drift", True, f"drift share {share:.2f}, below the alert threshold "
                      f"{DRIFT_SHARE_ALERT:.2f}; drifted: {drifted}", section=SECTION)


def _labels(window: dict[str, Any]) -> DoctorLine:
    predictions = int(window.get("predictions") or 0)
    joined = int(window.get("labels_joined") or 0)
    waiting = int(window.get("labels_waiting") or 0)
    if predictions == 0:
        return DoctorLine(
            "labels", True, "unknown: no predictions in the window yet",
            warn=True, section=SECTION,
            cause="nothing was scored since the window started, so no label can join",
            look="dojo generate stream; dojo topics")
    if joined == 0:
        seen = f"; {waiting} labels read wait for their prediction" if waiting else ""
        return DoctorLine(
            "labels", True, f"none joined yet: 0 of {predictions} predictions have their "
            f"label{seen}", warn=True, section=SECTION,
            cause="labels come later than predictions; if this lasts, nothing writes to "
                  "`labels`, or their transaction ids match no prediction",
            look="dojo topics; dojo logs drift-monitor")
    return DoctorLine("labels", True, f"{joined} of {predictions} predictions in the window "
                      f"have their label ({joined / predictions:.0%}); {waiting} labels wait "
                      "for their prediction", section=SECTION)

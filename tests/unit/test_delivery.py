"""Delivery logic that needs no server: gates from metric snapshots, the smoke verdict, the
Kubernetes command plan, the rollout plan and its state file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dojo.delivery import rollout_state as rs
from dojo.delivery.known_rows import KnownRows, smoke_rows
from dojo.delivery.rollout import plan
from dojo.delivery.rollout_gates import Limits, evaluate, psi, quantile
from dojo.delivery.smoke import Answers, Floors, judge, ranking_auc
from dojo.delivery.targets import KubernetesTarget
from dojo.serving.metrics import LATENCY_BUCKETS, SCORE_BUCKETS
from dojo.settings import load_settings

LIMITS = Limits(min_samples=20, max_error_rate=0.01, max_p99_ms=100.0, max_psi=0.25)


def histogram(metric: str, variant: str, bounds: tuple[float, ...],
              values: list[float]) -> dict[str, float]:
    """Samples of one variant's cumulative histogram, keyed as ServerApi.metrics() keys them."""
    snapshot = {}
    for bound in (*bounds, float("inf")):
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        key = f'{metric}_bucket{{le="{le}",variant="{variant}"}}'
        snapshot[key] = float(sum(v <= bound for v in values))
    snapshot[f'{metric}_count{{variant="{variant}"}}'] = float(len(values))
    return snapshot


def traffic(champion: list[float], challenger: list[float], variant: str = "canary",
            errors: int = 0, seconds: float = 0.004) -> dict[str, float]:
    snap = {**histogram("dojo_serving_scores", "champion", SCORE_BUCKETS, champion),
            **histogram("dojo_serving_scores", variant, SCORE_BUCKETS, challenger),
            **histogram("dojo_serving_model_duration_seconds", variant, LATENCY_BUCKETS,
                        [seconds] * len(challenger))}
    snap[f'dojo_serving_variant_errors_total{{variant="{variant}"}}'] = float(errors)
    return snap


LOW = [0.01 * (i % 10) for i in range(200)]  # scores in [0, 0.09]
HIGH = [0.9 + 0.01 * (i % 10) for i in range(200)]  # scores in [0.9, 0.99]


def test_the_same_scores_pass_every_gate() -> None:
    report = evaluate({}, traffic(LOW, LOW), "canary", LIMITS)
    assert report.passed and report.samples == 200
    assert [c["name"] for c in report.checks] == ["error_rate", "p99_ms", "psi"]
    assert report.checks[2]["value"] == pytest.approx(0.0)


def test_shifted_scores_fail_the_psi_gate() -> None:
    report = evaluate({}, traffic(LOW, HIGH, "shadow"), "shadow", LIMITS)
    assert not report.passed
    assert [c["name"] for c in report.failed] == ["psi"]
    assert "PSI vs champion" in report.summary()


def test_errors_and_slow_predicts_fail_their_gates() -> None:
    failing = evaluate({}, traffic(LOW, LOW[:100], errors=100), "canary", LIMITS)
    assert [c["name"] for c in failing.failed] == ["error_rate"]
    assert failing.checks[0]["value"] == pytest.approx(0.5)
    slow = evaluate({}, traffic(LOW, LOW, seconds=0.3), "canary", LIMITS)
    assert [c["name"] for c in slow.failed] == ["p99_ms"]


def test_a_window_is_the_difference_of_two_snapshots() -> None:
    before = traffic(LOW, HIGH)  # an earlier, shifted challenger
    after = {k: before[k] + v for k, v in traffic(LOW, LOW).items()}
    assert evaluate(before, after, "canary", LIMITS).passed  # only the new rows count


def test_too_few_rows_are_not_enough_to_pass() -> None:
    report = evaluate({}, traffic(LOW, LOW[:5]), "canary", LIMITS)
    assert not report.enough and not report.passed  # whatever the checks say so far


def test_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.2, 100.0), (float("inf"), 100.0)]
    assert quantile(buckets, 0.5) == pytest.approx(0.1)
    assert quantile(buckets, 0.75) == pytest.approx(0.15)
    assert quantile([], 0.99) is None
    assert psi([], [(1.0, 3.0)]) is None


def test_smoke_verdicts() -> None:
    rows = {f"t{i}": ("fraud" if i < 5 else "legit") for i in range(10)}
    known = KnownRows([], {tx: d == "fraud" for tx, d in rows.items()})
    floors = Floors(min_auc=0.75, min_agreement=0.8)
    ranked = {tx: (0.9 if d == "fraud" else 0.1) for tx, d in rows.items()}
    reference = Answers("1", dict(rows), dict(ranked))
    same = Answers("2", dict(rows), dict(ranked))
    verdict = judge(same, "2", reference, known, floors)
    assert verdict.passed and "ROC AUC 1.00" in verdict.message
    inverted = Answers("2", {k: "legit" if v == "fraud" else "fraud" for k, v in rows.items()},
                       {tx: 1 - s for tx, s in ranked.items()})
    verdict = judge(inverted, "2", reference, known, floors)
    assert not verdict.passed and "ROC AUC 0.00" in verdict.message
    blind = Answers("2", dict.fromkeys(rows, "legit"), dict(ranked))  # ranks well, flags nothing
    verdict = judge(blind, "2", reference, known, Floors(0.75, 0.5))  # agrees on half
    assert not verdict.passed and "still flags 0% of the 5" in verdict.message
    assert not judge(Answers(error="/predict/batch answered 500"), "2", reference, known,
                     floors).passed
    assert not judge(same, "3", reference, known, floors).passed  # the wrong version answered
    assert judge(same, "2", None, known, floors).passed  # first deploy: nothing to compare with
    nan = Answers("2", dict(rows), dict.fromkeys(rows, float("nan")))
    assert "outside [0, 1]" in judge(nan, "2", reference, known, floors).message


def test_smoke_rows_are_the_same_known_rows_under_users_no_stream_writes() -> None:
    first, again = smoke_rows(40), smoke_rows(40)
    assert [r["amount"] for r in first.rows] == [r["amount"] for r in again.rows]
    assert all(r["user_id"].startswith("smoke-") for r in first.rows)
    assert set(first.labels) == {r["transaction_id"] for r in first.rows}
    assert 0 < sum(first.labels.values()) < len(first.labels)  # both classes to rank


def test_smoke_ranking_needs_no_previous_version() -> None:
    """A shuffled-label model: decisions like the previous version's (which flagged nothing),
    scores at random. Only the ranking against the known labels can catch it."""
    rows = {f"t{i}": "legit" for i in range(20)}
    known = KnownRows([], {f"t{i}": i % 2 == 0 for i in range(20)})
    random_scores = {f"t{i}": 0.3 + 0.01 * (i % 4 in (0, 1)) for i in range(20)}
    shuffled = Answers("9", dict(rows), random_scores)
    previous = Answers("8", dict(rows), dict.fromkeys(rows, 0.05))
    for reference in (previous, None):
        verdict = judge(shuffled, "9", reference, known, Floors(0.75, 0.8))
        assert not verdict.passed and "ROC AUC 0.50" in verdict.message, verdict.message
    assert ranking_auc({"a": 0.2}, {"a": True}) is None  # one class: nothing to rank


def test_the_kubernetes_plan_uses_the_manifests_names(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    restart = KubernetesTarget(settings).plan()
    assert restart["apply"][0] == ["kubectl", "--namespace", "dojo", "rollout", "restart",
                                   "deployment/model-server"]
    assert restart["apply"][1][3:6] == ["rollout", "status", "deployment/model-server"]
    assert restart["undo"][0] == ["kubectl", "--namespace", "dojo", "rollout", "undo",
                                  "deployment/model-server"]
    assert restart["smoke"][0][-1] == "<LOCAL_PORT>:8000"  # the pod's port, not the host's
    image = KubernetesTarget(settings, image="dojo-serving:v2").plan()
    assert image["apply"][0][3:] == ["set", "image", "deployment/model-server",
                                     "model-server=dojo-serving:v2"]
    assert image["check"][0] == ["kubectl", "cluster-info", "--request-timeout=5s"]


def test_rollout_plan_and_state_round_trip(tmp_path: Path) -> None:
    steps = plan([0.1, 0.5])
    assert [s.name for s in steps] == ["shadow", "canary 10%", "canary 50%", "full"]
    state = rs.RolloutState("fraud", "4", "3", steps=steps)
    assert state.current is None
    steps[0].started, steps[0].status = rs.now(), rs.PASSED
    steps[1].started, steps[1].status = rs.now(), rs.RUNNING
    rs.save(tmp_path, state)
    loaded = rs.load(tmp_path)
    assert loaded is not None and loaded.current is not None
    assert loaded.current.name == "canary 10%" and loaded.version == "4"
    assert rs.still_running(loaded)  # this process wrote it and is alive
    loaded.pid = 2**22 + 12345  # no such process
    assert not rs.still_running(loaded)
    assert rs.load(tmp_path / "elsewhere") is None


def test_rollout_shares_are_validated_naming_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("DOJO_ROLLOUT_SHARES", "0.5,0.1")
    with pytest.raises(ValueError, match="DOJO_ROLLOUT_SHARES"):
        load_settings()
    monkeypatch.setenv("DOJO_ROLLOUT_SHARES", "0.2,0.6")
    assert load_settings().canary_shares == [0.2, 0.6]

"""Promotion gates: the checks a model version must pass before it may become `challenger`.

Why gates in the pipeline and not a person's judgement: retraining runs daily and on drift
alerts, often unattended. Each gate encodes one way a new model can be worse than no change:
too weak in absolute terms, worse than the model already serving (compared on the *same*
validation rows, so data drift cannot flatter either side), too slow or too big for the
serving budget, or much worse for one country than another. All gates are evaluated (not
just up to the first failure), so one run reports every problem at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from dojo.settings import Settings


@dataclass(frozen=True)
class ChampionScore:
    """Champion and candidate scored on the same validation rows (see dojo/training/champion.py)."""

    version: str
    pr_auc: float | None = None
    roc_auc: float | None = None
    candidate_pr_auc: float | None = None
    rows: int = 0
    positives: int = 0
    error: str = ""  # non-empty: the champion could not score these rows, and why
    skipped: str = ""  # non-empty: too few unseen rows to compare fairly, and why


@dataclass(frozen=True)
class GateCheck:
    name: str
    passed: bool
    message: str


@dataclass
class GateResult:
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [check.message for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def _floor(name: str, label: str, value: float, floor: float) -> GateCheck:
    ok = value >= floor
    return GateCheck(name, ok, f"{label} {value:.3f} {'>=' if ok else '<'} floor {floor:.3f}")


def _champion(champion: ChampionScore | None, margin: float) -> GateCheck:
    if champion is None:
        return GateCheck("vs_champion", True, "no champion yet: nothing to compare against")
    if champion.skipped:
        return GateCheck("vs_champion", True, f"champion v{champion.version}: {champion.skipped}")
    if champion.error or champion.pr_auc is None or champion.candidate_pr_auc is None:
        return GateCheck("vs_champion", False, f"champion v{champion.version} could not be "
                         f"scored on this validation data: {champion.error or 'no score'}")
    drop = champion.pr_auc - champion.candidate_pr_auc
    ok = drop <= margin
    return GateCheck("vs_champion", ok,
                     f"PR-AUC {champion.candidate_pr_auc:.3f} vs champion v{champion.version} "
                     f"{champion.pr_auc:.3f} on the same {champion.rows:,} rows "
                     f"({champion.positives} frauds; drop {max(drop, 0.0):.3f}, "
                     f"allowed {margin:.3f})")


def _segments(segments: list[dict[str, object]], gap_limit: float) -> GateCheck:
    eligible = [s for s in segments if s["eligible"] and s["recall"] is not None]
    if len(eligible) < 2:
        return GateCheck("segment_gap", True,
                         f"{len(eligible)} country with enough frauds to compare: not gated")
    worst = min(eligible, key=lambda s: float(s["recall"]))  # type: ignore[arg-type]
    best = max(eligible, key=lambda s: float(s["recall"]))  # type: ignore[arg-type]
    gap = float(best["recall"]) - float(worst["recall"])  # type: ignore[arg-type]
    ok = gap <= gap_limit
    if gap == 0:
        return GateCheck("segment_gap", ok, f"recall {float(best['recall']):.2f} in all "
                         f"{len(eligible)} countries with enough frauds (limit {gap_limit:.3f})")
    return GateCheck("segment_gap", ok,
                     f"recall gap {gap:.3f} between {best['segment']} ({float(best['recall']):.2f})"
                     f" and {worst['segment']} ({float(worst['recall']):.2f}) "
                     f"{'<=' if ok else '>'} limit {gap_limit:.3f}")


def run_gates(
    metrics: dict[str, float],
    segments: list[dict[str, object]],
    champion: ChampionScore | None,
    settings: Settings,
) -> GateResult:
    """Evaluate every gate for a candidate's validation metrics."""
    latency, size = metrics["latency_p95_ms"], metrics["model_mb"]
    return GateResult([
        _floor("pr_auc_floor", "PR-AUC", metrics["pr_auc"], settings.gate_min_pr_auc),
        _floor("roc_auc_floor", "ROC-AUC", metrics["roc_auc"], settings.gate_min_roc_auc),
        _champion(champion, settings.gate_champion_margin),
        GateCheck("latency", latency <= settings.gate_max_latency_ms,
                  f"single-row predict p95 {latency:.1f} ms (budget "
                  f"{settings.gate_max_latency_ms:.0f} ms)"),
        GateCheck("size", size <= settings.gate_max_model_mb,
                  f"model size {size:.2f} MB (budget {settings.gate_max_model_mb:.0f} MB)"),
        _segments(segments, settings.gate_max_segment_gap),
    ])


def gate_settings(settings: Settings) -> dict[str, float]:
    """The thresholds in force, logged as params so a run shows what it was judged against."""
    names = ("gate_min_pr_auc", "gate_min_roc_auc", "gate_champion_margin",
             "gate_precision_target", "gate_max_latency_ms", "gate_max_model_mb",
             "gate_max_segment_gap", "gate_min_segment_positives",
             "gate_champion_min_positives")
    return {name: getattr(settings, name) for name in names}

"""The smoke test of a deploy: score known rows with the new version and judge the answers.

What it catches, and why each check:
- any non-200 answer: a version that loads but fails on predict (an encoder meeting a
  category it never saw, a dependency that changed) answers 5xx;
- the answering version: the server must really serve the version just deployed;
- scores outside [0, 1] or not numbers: a broken output layer;
- how well the scores rank the known rows (ROC AUC against the generator's own labels), below
  a floor: a version trained on shuffled labels scores at random (AUC about 0.5; trained
  versions score about 0.9 on these rows). This check needs no previous version, so it holds
  whatever the champion before it was, or whether it flagged any of the rows;
- agreement with the previous champion's decisions on the same rows, below a floor: a version
  that loads and answers but decides differently on most known rows (trained on shuffled or
  inverted labels). A good new version moves some decisions, not most of them;
- of the rows the previous champion flagged, the share the new version still flags, below
  half: a version that flags nothing (what a model trained on shuffled labels does at its
  precision threshold) can agree on most rows while catching no fraud at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dojo.delivery.known_rows import KnownRows
from dojo.delivery.server_api import ServerApi, ServerError

# A new version must keep at least this share of the previous version's fraud flags on the
# known rows (checked when the previous version flagged at least MIN_FLAGS of them).
KEEP_FLAGS = 0.5
MIN_FLAGS = 3


@dataclass
class Answers:
    """Decisions and scores by transaction id, or why the server could not give them."""

    version: str | None = None
    decisions: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def score_rows(server: ServerApi, rows: list[dict[str, Any]]) -> Answers:
    try:
        response = server.predict_batch(rows)
    except ServerError as error:
        return Answers(error=str(error))
    if response.status_code != 200:
        return Answers(error=f"/predict/batch answered {response.status_code}: "
                             f"{response.text[:160]}")
    answers = Answers()
    versions = set()
    for item in response.json()["predictions"]:
        versions.add(item["model_version"])
        answers.decisions[item["transaction_id"]] = item["decision"]
        answers.scores[item["transaction_id"]] = item["score"]
    answers.version = ",".join(sorted(versions))
    return answers


@dataclass(frozen=True)
class SmokeResult:
    passed: bool
    message: str


@dataclass(frozen=True)
class Floors:
    """The smoke test's thresholds (DOJO_DEPLOY_SMOKE_MIN_AUC, _MIN_AGREEMENT)."""

    min_auc: float
    min_agreement: float


def ranking_auc(scores: dict[str, float], labels: dict[str, bool]) -> float | None:
    """ROC AUC of ``scores`` on the labelled rows; None without both classes among them."""
    from sklearn.metrics import roc_auc_score

    known = [tx for tx in labels if tx in scores]
    truth = [labels[tx] for tx in known]
    if len(set(truth)) < 2:
        return None
    return float(roc_auc_score(truth, [scores[tx] for tx in known]))


def judge(new: Answers, version: str, reference: Answers | None, known: KnownRows,
          floors: Floors) -> SmokeResult:
    """Pass or fail ``new`` (the deployed version's answers): on its own against the known
    labels, then against ``reference`` (the previous version's answers on the same rows)."""
    if new.error:
        return SmokeResult(False, new.error)
    if new.version != version:
        return SmokeResult(False, f"answered by v{new.version}, expected v{version}")
    bad = [s for s in new.scores.values() if not (math.isfinite(s) and 0.0 <= s <= 1.0)]
    if bad:
        return SmokeResult(False, f"{len(bad)} score(s) outside [0, 1]: {bad[:3]}")
    flagged = sum(d == "fraud" for d in new.decisions.values())
    summary = f"{len(new.decisions)} rows answered, {flagged} flagged"
    auc = ranking_auc(new.scores, known.labels)
    if auc is not None:
        summary += f", ROC AUC {auc:.2f} on their labels (floor {floors.min_auc:.2f})"
        if auc < floors.min_auc:
            return SmokeResult(False, f"{summary}: the scores do not rank the known frauds "
                                      "above the legitimate rows")
    min_agreement = floors.min_agreement
    if reference is None or reference.error or not reference.decisions:
        return SmokeResult(True, f"{summary} (no previous version to compare with)")
    same = sum(new.decisions.get(tx) == d for tx, d in reference.decisions.items())
    agreement = same / len(reference.decisions)
    detail = (f"{summary}; decides as v{reference.version} did on {agreement:.0%} of them "
              f"(floor {min_agreement:.0%})")
    flagged_before = [tx for tx, d in reference.decisions.items() if d == "fraud"]
    if len(flagged_before) < MIN_FLAGS:
        return SmokeResult(agreement >= min_agreement, detail)
    kept = sum(new.decisions.get(tx) == "fraud" for tx in flagged_before) / len(flagged_before)
    detail += (f", still flags {kept:.0%} of the {len(flagged_before)} it flagged "
               f"(floor {KEEP_FLAGS:.0%})")
    return SmokeResult(agreement >= min_agreement and kept >= KEEP_FLAGS, detail)

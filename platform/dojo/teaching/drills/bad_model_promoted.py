"""Drill: a version trained on shuffled labels was forced to champion, past the gates.

Why this fault: a model that loads, answers in milliseconds and returns scores between 0 and 1
is healthy for every probe, and still wrong. The training gates refused this version (its
scores rank frauds no better than a coin), and someone promoted it anyway with `--force`
("the metric is noisy, ship it"). The server hot-loads the new champion within seconds; the
damage shows in decisions, then, once labels arrive, in the quality metrics. The drill
registers such a version and forces it to champion the way `dojo model promote --force` does;
the check scores the deploy's smoke rows (known labels) on what the server actually serves
and passes only when the scores rank them as a trained model does (ROC AUC at least
DOJO_DEPLOY_SMOKE_MIN_AUC).
"""

from __future__ import annotations

from dojo.teaching.drills._champion import (
    ROLLBACK_AND_RELOAD,
    ensure_champion,
    force_champion,
    pipeline,
    register_for_drill,
    restore_registry,
    server,
    training_frame,
    wait_served,
)
from dojo.teaching.drills.base import Check, Drill, DrillContext
from dojo.training.tracking import GATE_REASON_TAG, GATE_TAG

NAME = "bad-model-promoted"


def shuffled_label_model() -> object:
    """The same pipeline as a good champion, fitted on the labels in random order."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, labels = training_frame()
    shuffled = np.random.default_rng(5).permutation(labels)
    return pipeline(HistGradientBoostingClassifier(max_iter=50, random_state=0),
                    frame).fit(frame, shuffled)


def served_ranking(ctx: DrillContext) -> Check:
    """Score the smoke rows on the served champion; ok when their ROC AUC meets the floor."""
    from dojo.delivery.known_rows import smoke_rows
    from dojo.delivery.smoke import ranking_auc, score_rows

    known = smoke_rows(ctx.settings.deploy_smoke_rows)
    with server(ctx) as api:
        answers = score_rows(api, known.rows)
    if answers.error:
        return Check(False, f"the model server does not score: {answers.error}")
    auc = ranking_auc(answers.scores, known.labels)
    floor = ctx.settings.deploy_smoke_min_auc
    flagged = sum(d == "fraud" for d in answers.decisions.values())
    if auc is None:
        return Check(False, "the smoke rows have one class only: nothing to rank")
    detail = (f"v{answers.version} ranks the {len(answers.scores)} smoke rows with ROC AUC "
              f"{auc:.2f} (floor {floor:.2f}, DOJO_DEPLOY_SMOKE_MIN_AUC); flags {flagged}")
    return Check(auc >= floor, detail)


class BadModelPromoted(Drill):
    name = NAME
    title = "A version trained on shuffled labels was forced to champion"
    symptom = (
        "Since a release a few minutes ago, the fraud decisions look arbitrary: known fraud "
        "patterns pass, ordinary purchases are flagged. The model server is up and ready, "
        "answers fast and without errors."
    )
    hints = (
        "Which version answers? Every prediction names its `model_version`, and `curl "
        "\"http://${DOJO_HOST}:${DOJO_SERVING_PORT}/model\"` says since when it serves. Then "
        "look at that version in the registry: `dojo model list`.",
        "The champion changed minutes ago, to a version whose gate says `failed` (or nothing), "
        "and `dojo model show champion` shows `dojo.promoted_by = dojo model promote --force`. "
        "Its scores on labelled rows rank frauds no better than chance.",
        "Put the previous champion back: `dojo model rollback`, then ask the server to reload "
        "now (POST /admin/reload; it would pick it up at its next poll anyway).",
    )
    runbook = "labs/drills/bad-model-promoted.md"
    fix_commands = ROLLBACK_AND_RELOAD

    def inject(self, ctx: DrillContext) -> None:
        ensure_champion(ctx, NAME)
        bad = register_for_drill(ctx, NAME, shuffled_label_model(), {
            GATE_TAG: "failed", GATE_REASON_TAG: "roc_auc {roc_auc:.3f} is below the floor"})
        force_champion(ctx, bad)
        wait_served(ctx, bad)

    def check(self, ctx: DrillContext) -> Check:
        return served_ranking(ctx)

    def reset(self, ctx: DrillContext) -> None:
        restore_registry(ctx, NAME)

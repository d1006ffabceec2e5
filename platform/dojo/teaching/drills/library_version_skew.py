"""Drill: the new champion was saved with another scikit-learn; the server refuses to load it.

Why this fault: a model file is only as portable as the library that wrote it. A version
trained in a notebook or an old image, with another scikit-learn release, reaches the registry
and is promoted. Loading it in the server's environment may fail, or may succeed and score
differently (estimator internals change between minor releases). MLflow records the version
that saved the model (`sklearn_version` in its MLmodel file, and the pins in requirements.txt
and conda.yaml); the server compares it with its own and refuses another major.minor, keeping
the model it serves (`dojo.serving.model_loading.check_library_version`). So the release
silently does not happen: the registry says one champion, the server serves another.

The drill registers a version whose saved metadata names a scikit-learn release other than
the one installed, and forces it to champion as `dojo model promote --force` does. The check
observes both sides: it passes when the server serves the registry's champion, with no load
problem.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dojo.teaching.drills._champion import (
    ROLLBACK_AND_RELOAD,
    ensure_champion,
    force_champion,
    good_model,
    register_for_drill,
    registry_client,
    restore_registry,
    served_champion,
)
from dojo.teaching.drills.base import Check, Drill, DrillContext, DrillError

NAME = "library-version-skew"


def skewed_version(installed: str) -> str:
    """A scikit-learn release of another minor than ``installed`` (two minors older)."""
    major, minor = (int(part) for part in installed.split(".")[:2])
    return f"{major}.{minor - 2}.2" if minor >= 2 else f"{major}.{minor + 1}.0"


def claim_sklearn(model_dir: Path, version: str) -> None:
    """Rewrite a saved model's metadata so it says scikit-learn ``version`` saved it: the
    MLmodel flavor and the pins of requirements.txt and conda.yaml, as that release would."""
    mlmodel = model_dir / "MLmodel"
    meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    meta["flavors"]["sklearn"]["sklearn_version"] = version
    mlmodel.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    pin = re.compile(r"scikit-learn==[\w.]+")
    for name in ("requirements.txt", "conda.yaml"):
        path = model_dir / name
        if path.exists():
            text = path.read_text(encoding="utf-8")
            path.write_text(pin.sub(f"scikit-learn=={version}", text), encoding="utf-8")


def served_matches_registry(ctx: DrillContext) -> Check:
    from dojo.training.tracking import CHAMPION, alias_version

    wanted = alias_version(registry_client(ctx), ctx.settings.registered_model, CHAMPION)
    served, problem = served_champion(ctx)
    if served is None:
        return Check(False, f"the model server serves no champion ({problem})")
    if served != wanted:
        return Check(False, f"the registry's champion is v{wanted}, the server serves "
                            f"v{served}: {problem or 'no load problem reported yet'}")
    if problem:
        return Check(False, f"the server serves v{served}, the champion, but reports: {problem}")
    return Check(True, f"the server serves v{served}, the registry's champion, with no load "
                       "problem")


class LibraryVersionSkew(Drill):
    name = NAME
    title = "The champion was saved with another scikit-learn; the server will not load it"
    symptom = (
        "A new champion was promoted several minutes ago, but predictions still name the old "
        "model version. The model server is up and ready; `dojo model list` shows the new "
        "version as champion."
    )
    hints = (
        "Ask the server what it serves and whether it has a problem: `curl "
        "\"http://${DOJO_HOST}:${DOJO_SERVING_PORT}/model\"` (the `problem` field), and "
        "`dojo_serving_model_reloads_total{outcome=\"failed\"}` on its /metrics.",
        "It refuses to load the champion: the version was saved with another scikit-learn "
        "release than the server runs (`dojo logs model-server | grep library_version_skew`). "
        "MLflow recorded it in the version's MLmodel file (`sklearn_version`).",
        "Put the champion back on a version the server can load: `dojo model rollback`, then "
        "POST /admin/reload. (The lasting fix is to retrain the model with the platform's "
        "pinned libraries.)",
    )
    runbook = "labs/drills/library-version-skew.md"
    fix_commands = ROLLBACK_AND_RELOAD

    def inject(self, ctx: DrillContext) -> None:
        import sklearn

        ensure_champion(ctx, NAME)
        other = skewed_version(sklearn.__version__)
        skewed = register_for_drill(ctx, NAME, good_model(), {},
                                    edit_model_dir=lambda path: claim_sklearn(path, other))
        force_champion(ctx, skewed)

        def refused() -> Check:
            served, problem = served_champion(ctx)
            if served == skewed:
                raise DrillError(f"the server loaded v{skewed}, saved with scikit-learn "
                                 f"{other}: its loader does not compare library versions")
            return Check(bool(problem) and f"v{skewed}" in (problem or ""),
                         f"serving v{served}; problem: {problem}")

        ctx.wait_for(refused, deadline_s=120, what=f"the server to refuse v{skewed}")

    def check(self, ctx: DrillContext) -> Check:
        return served_matches_registry(ctx)

    def reset(self, ctx: DrillContext) -> None:
        restore_registry(ctx, NAME)

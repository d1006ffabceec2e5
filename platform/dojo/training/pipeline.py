"""The steps of the training pipeline, one function per DAG task.

Why the logic lives here and not in the DAG file: the DAG file is parsed every 30 s by the
DAG processor and must stay cheap and import-safe; these functions are plain Python that the
tests call directly and that `dag.test()` and a real Airflow run execute the same way.

Each step reads what earlier steps wrote into the interval's work directory and returns a
small JSON-safe dict (it becomes the task's XCom, visible in the Airflow UI). Steps are
idempotent: a retry or rerun overwrites the same files.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import structlog

from dojo.settings import Settings
from dojo.training import tracking
from dojo.training.errors import GateFailed
from dojo.training.names import SEED
from dojo.training.window import TrainingWindow, resolve_window, work_dir

log = structlog.get_logger(__name__)


def _dir(settings: Settings, window: dict[str, str]) -> tuple[TrainingWindow, Path]:
    parsed = TrainingWindow.from_dict(window)
    path = work_dir(settings, parsed)
    path.mkdir(parents=True, exist_ok=True)
    return parsed, path


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def resolve(settings: Settings, start: Any, end: Any) -> dict[str, str]:
    """The run's window from its data interval."""
    window = resolve_window(start, end, settings.train_lookback_days)
    log.info("training.window", interval=window.id, days=len(window.days),
             first_day=str(window.days[0]), last_day=str(window.days[-1]))
    return window.to_dict()


def needs_training(settings: Settings, window: dict[str, str], force: bool = False) -> bool:
    """False when a finished MLflow run for this interval exists (the rest is skipped)."""
    parsed = TrainingWindow.from_dict(window)
    done = tracking.runs_for_interval(tracking.client(settings), settings, parsed.id, "FINISHED")
    if not done:
        return True
    run = done[0]
    summary = (f"interval {parsed.id} already trained: MLflow run {run.info.run_id}, gate "
               f"{run.data.tags.get(tracking.GATE_TAG, '?')}, version "
               f"{run.data.tags.get('dojo.registered_version', 'none')}")
    if force:
        log.warning("training.rerun_forced", detail=summary)
        return True
    log.info("training.skip", detail=summary + " (pass force=true to train again)")
    return False


def check_inputs(settings: Settings, window: dict[str, str]) -> dict[str, Any]:
    from dojo.training.inputs import check_inputs as check

    parsed, path = _dir(settings, window)
    report = check(settings, parsed).to_dict()
    _write(path / "inputs.json", report)
    return {"rows": report["rows"], "labelled_rows": report["labelled_rows"]}


def validate(settings: Settings, window: dict[str, str]) -> dict[str, Any]:
    from dojo.training.inputs import load_window
    from dojo.training.validation import labelled_rows
    from dojo.training.validation import validate as run_rules

    parsed, path = _dir(settings, window)
    raw = load_window(settings, parsed)
    report = run_rules(raw, parsed, settings).to_dict()
    labelled_rows(raw, parsed).to_parquet(path / "labelled.parquet", index=False)
    _write(path / "validation.json", report)
    log.info("training.validated", **report)
    return report


def build_training_set(settings: Settings, window: dict[str, str],
                       refresh_features: bool = True) -> dict[str, Any]:
    from dojo.training.dataset import build_training_set as build
    from dojo.training.dataset import numeric_as_float

    _, path = _dir(settings, window)
    labelled = pd.read_parquet(path / "labelled.parquet")
    training_set = build(settings, labelled, refresh_features=refresh_features)
    frame = numeric_as_float(training_set.frame, training_set.features)
    frame.to_parquet(path / "dataset.parquet", index=False)
    nulls = float(frame[training_set.features].isna().mean().mean())
    info = {"features": training_set.features, "feature_service": training_set.feature_service,
            "rows": len(frame), "null_share": nulls,
            "seconds": {step: round(value, 3) for step, value in training_set.seconds.items()}}
    _write(path / "features.json", info)
    return {key: info[key] for key in ("feature_service", "rows", "null_share")}


def split(settings: Settings, window: dict[str, str]) -> dict[str, Any]:
    from dojo.training.dataset import LABEL, time_split

    _, path = _dir(settings, window)
    frame = pd.read_parquet(path / "dataset.parquet")
    train, valid, cutoff = time_split(frame, settings.train_valid_fraction)
    both = pd.concat([train.assign(split="train"), valid.assign(split="validation")],
                     ignore_index=True)
    both.to_parquet(path / "split.parquet", index=False)
    info = {"cutoff": cutoff.isoformat(), "train_rows": len(train), "valid_rows": len(valid),
            "train_positives": int(train[LABEL].sum()), "valid_positives": int(valid[LABEL].sum())}
    _write(path / "split.json", info)
    return info


def _parts(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    both = pd.read_parquet(path / "split.parquet")
    features = _read(path / "features.json")["features"]
    return both[both["split"] == "train"], both[both["split"] == "validation"], features


def train(settings: Settings, window: dict[str, str], shuffle_labels: bool = False) -> dict:
    from dojo.training.models import fit_candidates

    _, path = _dir(settings, window)
    train_part, _, features = _parts(path)
    trained = fit_candidates(train_part, features, seed=SEED, shuffle_labels=shuffle_labels)
    (path / "models.pkl").write_bytes(pickle.dumps(trained))
    return {t.name: round(t.fit_seconds, 3) for t in trained}


def evaluate(settings: Settings, window: dict[str, str]) -> dict[str, Any]:
    """Evaluate every candidate; the best PR-AUC becomes the run's candidate."""
    from dojo.training.evaluation import evaluate as run_eval
    from dojo.training.models import compute_threads

    _, path = _dir(settings, window)
    _, valid, features = _parts(path)
    trained = pickle.loads((path / "models.pkl").read_bytes())
    with compute_threads():
        evaluations = {t.name: run_eval(t.name, t.model, valid, features,
                                        settings.gate_precision_target,
                                        settings.gate_min_segment_positives).to_dict()
                       for t in trained}
    candidate = max(evaluations, key=lambda name: evaluations[name]["metrics"]["pr_auc"])
    _write(path / "evaluation.json", {"candidate": candidate, "evaluations": evaluations})
    summary = {n: {k: round(e["metrics"][k], 4) for k in ("pr_auc", "roc_auc",
                                                          "recall_at_precision")}
               for n, e in evaluations.items()}
    log.info("training.evaluated", candidate=candidate, **summary)
    return {"candidate": candidate, **summary}


def gate(settings: Settings, window: dict[str, str]) -> dict[str, Any]:
    """Run the gates (champion scored on the same rows); the decision is enforced at publish."""
    from dojo.training.champion import compare_with_champion
    from dojo.training.gates import run_gates
    from dojo.training.models import compute_threads

    _, path = _dir(settings, window)
    _, valid, features = _parts(path)
    evaluation = _read(path / "evaluation.json")
    chosen = evaluation["evaluations"][evaluation["candidate"]]
    model = next(t.model for t in pickle.loads((path / "models.pkl").read_bytes())
                 if t.name == evaluation["candidate"])
    with compute_threads():
        champion = compare_with_champion(settings, valid, model, features,
                                         settings.gate_champion_min_positives)
    result = run_gates(chosen["metrics"], chosen["segments"], champion, settings)
    _write(path / "gate.json", {"gate": result.to_dict(),
                                "champion": champion.__dict__ if champion else None})
    for check in result.checks:
        log.info("training.gate", check=check.name, passed=check.passed, detail=check.message)
    return {"passed": result.passed, "reasons": result.reasons}


def publish(settings: Settings, window: dict[str, str], airflow_run_id: str,
            params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Log everything to MLflow; register + alias if the gate passed, else raise GateFailed."""
    from dojo.training.gates import gate_settings
    from dojo.training.publish import RunRecord
    from dojo.training.publish import publish as log_run

    parsed, path = _dir(settings, window)
    evaluation, gate_file = _read(path / "evaluation.json"), _read(path / "gate.json")
    features = _read(path / "features.json")
    record = RunRecord(
        window=parsed, airflow_run_id=airflow_run_id,
        frame=pd.read_parquet(path / "split.parquet"), features=features["features"],
        feature_service=features["feature_service"],
        trained=pickle.loads((path / "models.pkl").read_bytes()),
        evaluations=evaluation["evaluations"], candidate=evaluation["candidate"],
        gate=gate_file["gate"], champion=gate_file["champion"],
        reports={name: _read(path / f"{name}.json")
                 for name in ("inputs", "validation", "split", "features")},
        params={**gate_settings(settings), **(params or {}), "seed": SEED,
                "lookback_days": settings.train_lookback_days,
                "valid_fraction": settings.train_valid_fraction,
                "split_cutoff": _read(path / "split.json")["cutoff"]},
    )
    published = log_run(settings, record)
    if published.version is None:
        reasons = [c["message"] for c in record.gate["checks"] if not c["passed"]]
        raise GateFailed(reasons, published.run_id)
    log.info("training.registered", model=settings.registered_model, **published.to_dict())
    return published.to_dict()

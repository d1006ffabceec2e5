"""Score the candidate and the current champion on the same rows, none of which either saw.

Why not simply the candidate's validation set: the champion may have been *fitted* on some of
those rows. That happens all the time: consecutive daily runs share 13 of 14 days, and a
backfill of old intervals runs after a newer champion exists. A champion scored on rows it
trained on looks better than it is, and the gate would refuse good candidates (seen in this
project: three backfilled versions refused by 0.04 PR-AUC each). So both models are scored
only on validation rows newer than the champion's own train/validation cutoff; if too few
frauds remain there, the comparison is skipped and the reason is logged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from dojo.settings import Settings
from dojo.training import tracking
from dojo.training.dataset import LABEL, TIME
from dojo.training.gates import ChampionScore


def _load(settings: Settings, version: str) -> tuple[Any, pd.Timestamp | None]:
    """The champion as a pyfunc model, and the cutoff before which it was fitted."""
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    client = tracking.client(settings)
    found = client.get_model_version(settings.registered_model, version)
    cutoff = None
    if found.run_id:
        raw = client.get_run(found.run_id).data.params.get("split_cutoff")
        cutoff = pd.Timestamp(raw) if raw else None
    with tracking.quiet_skops():
        model = mlflow.pyfunc.load_model(f"models:/{settings.registered_model}/{version}")
    return model, cutoff


def _fraud_column(prediction: object) -> np.ndarray:
    values = np.asarray(prediction)
    return values[:, 1] if values.ndim == 2 else values  # pyfunc returns predict_proba


def compare_with_champion(
    settings: Settings, valid: pd.DataFrame, candidate: Any, features: list[str],
    min_positives: int,
) -> ChampionScore | None:
    """Champion vs candidate PR-AUC on validation rows unseen by both (None: no champion)."""
    client = tracking.client(settings)
    version = tracking.alias_version(client, settings.registered_model, tracking.CHAMPION)
    if version is None:
        return None
    try:
        model, cutoff = _load(settings, version)
        columns = model.metadata.get_input_schema().input_names()
    except Exception as error:  # a broken champion is a reason to stop, not a crash
        return ChampionScore(version, error=f"{type(error).__name__}: {error}"[:300])
    missing = [c for c in columns if c not in valid.columns]
    if missing:
        return ChampionScore(version, error=f"it needs columns {missing} this data lacks")
    rows = valid if cutoff is None else valid[valid[TIME] >= cutoff]
    y = rows[LABEL].to_numpy(dtype=bool)
    positives = int(y.sum())
    if positives < min_positives or positives == len(rows):
        since = f" newer than its fit cutoff {cutoff:%Y-%m-%d %H:%M}" if cutoff is not None else ""
        return ChampionScore(version, rows=len(rows), positives=positives,
                             skipped=f"only {positives} frauds in the validation rows{since} "
                                     f"(need {min_positives}): comparison skipped")
    try:
        champion_p = _fraud_column(model.predict(rows[columns]))
    except Exception as error:
        return ChampionScore(version, error=f"{type(error).__name__}: {error}"[:300])
    candidate_p = candidate.predict_proba(rows[features])[:, 1]
    return ChampionScore(
        version, pr_auc=float(average_precision_score(y, champion_p)),
        roc_auc=float(roc_auc_score(y, champion_p)),
        candidate_pr_auc=float(average_precision_score(y, candidate_p)),
        rows=len(rows), positives=positives,
    )

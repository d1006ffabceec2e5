"""Real traffic for the monitor tests: generated transactions, their real window features, a
real model trained on clean history, and the prediction-log records the model server writes.

Why not hand-made numbers: the drift tests must show that the generator's own knobs (the ones
the labs turn) are what the monitor flags, through the same features and scores the model
server logs.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from dojo.features import spec
from dojo.features.windows import compute_user_features
from dojo.monitoring.reference import Reference, build_reference
from dojo.synthetic.drift import DriftConfig
from dojo.synthetic.generator import generate_history
from dojo.training.dataset import LABEL, REQUEST_COLUMNS
from dojo.training.evaluation import threshold_at_precision
from dojo.training.models import BOOSTED, build_candidates

# joblib (under scikit-learn) counts physical cores with a subprocess, which the unit tier
# refuses; it then falls back to logical cores and warns. The fallback is what we want.
warnings.filterwarnings("ignore", message="Could not find the number of physical cores")

FEATURES = [*REQUEST_COLUMNS, *spec.USER_FEATURES]
USERS, MERCHANTS = 1500, 400
# Every frame has the same rows over the same days, so per-user window features (24 h counts)
# have the same distribution unless a drift knob changes them.
ROWS = 5000


def featured(rows: int, seed: int, drift: DriftConfig | None = None) -> pd.DataFrame:
    """Transactions over 3 days with their per-user window features and the label."""
    events = generate_history(rows=rows, days=3, seed=seed, users=USERS, merchants=MERCHANTS,
                              fraud_rate=0.03, drift=drift or DriftConfig())
    feats = compute_user_features(events, one_row_per_instant=False)
    events = events.sort_values(["user_id", "ts"], kind="stable").reset_index(drop=True)
    frame = events[["transaction_id", "ts", "user_id", *REQUEST_COLUMNS, LABEL]].copy()
    for name in spec.USER_FEATURES:
        frame[name] = feats[name].to_numpy()
    return frame


@dataclass
class Champion:
    model: Any
    reference: Reference
    threshold: float


@lru_cache(maxsize=1)
def champion() -> Champion:
    """A boosted model fitted on clean history; its reference is scored held-out rows."""
    train = featured(ROWS, seed=1)
    valid = featured(ROWS, seed=2)
    # the platform's boosted pipeline, with fewer trees: seconds, not a minute, to fit
    model = build_candidates(FEATURES)[BOOSTED].set_params(clf__max_iter=40)
    model.fit(train[FEATURES], train[LABEL])
    scores = model.predict_proba(valid[FEATURES])[:, 1]
    y = valid[LABEL].to_numpy(bool)
    from sklearn.metrics import average_precision_score

    threshold, recall = threshold_at_precision(y, scores, 0.9)
    metrics = {"pr_auc": float(average_precision_score(y, scores)),
               "recall_at_precision": recall, "threshold": threshold}
    reference = build_reference("1", "test-run", valid, FEATURES, scores, metrics,
                                sample_rows=3000)
    return Champion(model, reference, threshold)


def prediction_records(frame: pd.DataFrame, model: Any, threshold: float,
                       version: str = "1", variant: str = "champion") -> list[dict[str, Any]]:
    """What the model server logs per prediction (dojo/serving/scoring.py `_log`); without a
    model every score is 0.5 (for tests about the window, not about the scores)."""
    scores = (model.predict_proba(frame[FEATURES])[:, 1] if model is not None
              else np.full(len(frame), 0.5))
    now = datetime.now(UTC).isoformat()
    records = []
    for i, row in enumerate(frame.itertuples(index=False)):
        values = row._asdict()
        records.append({
            "request_id": f"req-{values['transaction_id']}",
            "transaction_id": values["transaction_id"], "ts": str(values["ts"]),
            "scored_at": now, "user_id": values["user_id"], "merchant_id": "m",
            "variant": variant, "model_name": "fraud", "model_version": version,
            "features": {name: _plain(values[name]) for name in FEATURES},
            "score": float(scores[i]),
            "decision": "fraud" if scores[i] >= threshold else "legit",
            "threshold": threshold, "degraded": False})
    return records


def label_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"transaction_id": t, "is_fraud": bool(y), "label_ts": now}
            for t, y in zip(frame["transaction_id"], frame[LABEL], strict=True)]


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value

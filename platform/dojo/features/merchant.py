"""Per-merchant features from labelled history: how many labelled transactions, what share fraud.

Why rows at label *arrival* time: a fraud label reaches the platform hours or days after the
transaction (`label_ts`). A merchant's fraud rate as of time t may only use labels that had
arrived by t; stamping each row with the arrival time lets Feast's point-in-time join enforce
exactly that, so a training row never learns from a label that did not exist yet.
"""

from __future__ import annotations

import pandas as pd

from dojo.features.spec import MERCHANT_ENTITY_KEY, TIMESTAMP_COLUMN

LABEL_COLUMNS: tuple[str, ...] = ("transaction_id", "merchant_id", "is_fraud", "label_ts")


def compute_merchant_features(labelled: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Cumulative labelled count and fraud rate per merchant, one row per label arrival instant.

    Labels stamped after ``as_of`` have not arrived yet and are ignored; rows without a label
    (live events whose outcome is unknown) are ignored too.
    """
    frame = labelled.loc[:, list(LABEL_COLUMNS)].dropna(subset=["label_ts", "is_fraud"])
    frame = frame.drop_duplicates("transaction_id", keep="first")
    frame = frame.assign(label_ts=pd.to_datetime(frame["label_ts"], utc=True),
                         is_fraud=frame["is_fraud"].astype(bool))
    frame = frame[frame["label_ts"] <= as_of]
    frame = frame.sort_values([MERCHANT_ENTITY_KEY, "label_ts", "transaction_id"], kind="stable")
    grouped = frame.groupby(MERCHANT_ENTITY_KEY, sort=False)
    count = grouped.cumcount() + 1
    frauds = grouped["is_fraud"].cumsum().astype("int64")
    result = pd.DataFrame({
        MERCHANT_ENTITY_KEY: frame[MERCHANT_ENTITY_KEY].to_numpy(),
        TIMESTAMP_COLUMN: frame["label_ts"].astype("datetime64[ns, UTC]").to_numpy(),
        "merchant_labelled_txn_count": count.to_numpy(dtype="int64"),
        "merchant_fraud_rate": (frauds / count).to_numpy(dtype="float64"),
    })
    result[TIMESTAMP_COLUMN] = pd.to_datetime(result[TIMESTAMP_COLUMN], utc=True)
    # Several labels arriving at one instant: the last row holds the state after all of them.
    result = result.drop_duplicates([MERCHANT_ENTITY_KEY, TIMESTAMP_COLUMN], keep="last")
    return result.reset_index(drop=True)

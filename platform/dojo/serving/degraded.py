"""What the server scores with when the online features are missing: the documented defaults.

Why these values: the per-user features describe a user's activity *including* the
transaction being scored (dojo/features/spec.py). With no history to read, the honest stand-in
is "this is the user's first transaction": one transaction in every window, its own amount as
sum and mean, one merchant, one country, a new device, no previous transaction. Merchant
reputation is left unknown (null), which is what the model saw in training for a merchant with
no labels yet, so it falls back to what it learned for unknown merchants.

A response scored this way says `degraded: true` with the reason, and the server counts it:
a fraud model scoring without history is less accurate, and an operator must see that.
"""

from __future__ import annotations

from dojo.contracts import Transaction
from dojo.features import spec

# Reasons, as they appear in responses and in the `reason` label of the degraded counter.
STORE_UNAVAILABLE = "online_store_unavailable"
NO_USER_FEATURES = "no_user_features"


def first_transaction_features(transaction: Transaction) -> dict[str, float | None]:
    """The `fraud_model` features of a user seen for the first time, from the request alone."""
    amount = float(transaction.amount)
    counts = {name: 1.0 for name in spec.USER_COUNT_FEATURES}
    counts["is_new_device"] = 1.0
    return {
        **counts,
        "amount_sum_1h": amount,
        "amount_mean_1h": amount,
        "amount_sum_24h": amount,
        "amount_mean_24h": amount,
        "seconds_since_prev_txn": spec.NO_PREVIOUS_TXN,
        "amount_to_user_mean_24h": 1.0,
        **{name: None for name in spec.MERCHANT_FEATURES},
    }

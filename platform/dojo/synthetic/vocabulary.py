"""The fraud world's fixed vocabulary: countries, currencies, merchant categories, channels,
fraud patterns and daily rhythms.

Why one module: the generator, the fraud patterns and the drift knobs all index into these
tables by position, so they must share one definition. Everything here is a constant; this
module imports nothing from the rest of `dojo.synthetic`.
"""

from __future__ import annotations

import numpy as np

from dojo.contracts import CHANNELS, CURRENCIES

# Home countries of users and merchants, with the share of users living there.
COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IE")
COUNTRY_WEIGHTS = np.array([0.40, 0.18, 0.12, 0.10, 0.07, 0.06, 0.04, 0.03])
# Where taken-over accounts are used from: never anyone's home, so "new country" is guaranteed.
FOREIGN_COUNTRIES: tuple[str, ...] = ("BR", "NG", "RU", "CN", "IN", "RO", "UA", "VN")
ALL_COUNTRIES: tuple[str, ...] = COUNTRIES + FOREIGN_COUNTRIES
# The platform accepts USD, EUR and GBP only; foreign transactions settle in USD.
COUNTRY_CURRENCY: tuple[str, ...] = tuple(
    {"US": "USD", "GB": "GBP"}.get(c, "EUR" if c in COUNTRIES else "USD") for c in ALL_COUNTRIES
)
CURRENCY_CODE = np.array([CURRENCIES.index(c) for c in COUNTRY_CURRENCY], dtype=np.int8)

# name: (share of legit traffic, amount scale vs the user's level, P(pos), P(ecom), P(atm))
BASE_CATEGORIES: dict[str, tuple[float, float, float, float, float]] = {
    "grocery": (0.22, 1.0, 0.90, 0.10, 0.0),
    "restaurant": (0.16, 0.9, 0.85, 0.15, 0.0),
    "fuel": (0.10, 1.3, 1.00, 0.00, 0.0),
    "retail": (0.14, 1.6, 0.60, 0.40, 0.0),
    "electronics": (0.05, 4.0, 0.40, 0.60, 0.0),
    "travel": (0.04, 6.0, 0.20, 0.80, 0.0),
    "entertainment": (0.08, 0.8, 0.50, 0.50, 0.0),
    "digital_goods": (0.09, 0.35, 0.00, 1.00, 0.0),
    "health": (0.05, 1.2, 0.80, 0.20, 0.0),
    "cash_withdrawal": (0.07, 2.5, 0.00, 0.00, 1.0),
}
# Categories that see traffic only under the drift knob (same layout; the share is unused).
NEW_CATEGORIES: dict[str, tuple[float, float, float, float, float]] = {
    "crypto_exchange": (0.0, 3.0, 0.0, 1.0, 0.0),
    "buy_now_pay_later": (0.0, 2.0, 0.3, 0.7, 0.0),
    "gaming": (0.0, 0.6, 0.0, 1.0, 0.0),
    "ev_charging": (0.0, 1.2, 1.0, 0.0, 0.0),
    "marketplace": (0.0, 1.5, 0.1, 0.9, 0.0),
}
CATEGORIES: tuple[str, ...] = tuple(BASE_CATEGORIES) + tuple(NEW_CATEGORIES)
CATEGORY_TABLE = np.array(list(BASE_CATEGORIES.values()) + list(NEW_CATEGORIES.values()))
CATEGORY_SCALE = CATEGORY_TABLE[:, 1]
CHANNEL_CUM = np.cumsum(CATEGORY_TABLE[:, 2:5], axis=1)
N_BASE = len(BASE_CATEGORIES)
CAT = {name: i for i, name in enumerate(CATEGORIES)}
POS, ECOM, ATM = (CHANNELS.index(c) for c in ("pos", "ecom", "atm"))

LEGIT, CARD_TESTING, ACCOUNT_TAKEOVER, HIGH_AMOUNT = 0, 1, 2, 3
FRAUD_PATTERNS: tuple[str, ...] = ("card_testing", "account_takeover", "high_amount")

# Spend by hour of day (UTC): quiet nights, lunch and evening peaks. Fraud is flatter.
LEGIT_HOURS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 4, 4.5, 5,
                        6, 5.5, 5, 4.8, 5, 5.5, 6, 6, 5, 4, 3, 2], dtype=float)
FRAUD_HOURS = np.array([3, 3, 3, 3, 2.5, 2, 2, 2, 2.5, 3, 3, 3,
                        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], dtype=float)
DAY_S = 86_400.0
MAX_AMOUNT = 999_999.0  # events.Transaction requires amount < 1,000,000


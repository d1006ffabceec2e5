"""Deterministic synthetic card transactions: the data every lab runs on.

Why synthetic: real card data cannot ship with a teaching repo, and a generator lets a lab turn
one knob (fraud rate, a drift, malformed events) and watch the platform react. Why vectorised:
the history for a training set is a million rows or more, and a per-row Python loop would make
``dojo generate history`` the slowest step of ``make up``.

Determinism: every random draw comes from ``numpy.random.SeedSequence`` children of the seed,
one child per stage, so the same seed and arguments give a byte-identical frame, and a drift
knob changes only the rows it is meant to change (the clean draws stay the same).

The population (users, cards, devices, merchants) has its own ``world_seed``, separate from the
transaction ``seed``, so history and live events drawn with different seeds still share one set
of customers: a user's home country and devices in the stream match their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from dojo.ingestion.drift import NEW_CATEGORIES, DriftConfig
from dojo.ingestion.events import CHANNELS

# --- the world's fixed vocabulary ------------------------------------------------------------
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
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
_CURRENCY_CODE = np.array([CURRENCIES.index(c) for c in COUNTRY_CURRENCY], dtype=np.int8)

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
CATEGORIES: tuple[str, ...] = tuple(BASE_CATEGORIES) + tuple(NEW_CATEGORIES)
_CAT_TABLE = np.array(list(BASE_CATEGORIES.values()) + list(NEW_CATEGORIES.values()))
CATEGORY_SCALE = _CAT_TABLE[:, 1]
CHANNEL_CUM = np.cumsum(_CAT_TABLE[:, 2:5], axis=1)
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

# Stage tags: each stage draws from its own child stream of the seed.
_HISTORY, _LIVE, _WORLD = 1, 2, 3


class HistoryConfig(BaseModel):
    """Every argument of a history run; the same config always yields the same frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(100_000, ge=1, le=50_000_000)
    days: int = Field(30, ge=1, le=3650)
    start_date: date = date(2025, 1, 1)
    seed: int = Field(42, ge=0)
    users: int = Field(10_000, ge=10, le=5_000_000)
    merchants: int = Field(2_000, ge=len(COUNTRIES) * N_BASE, le=1_000_000)
    world_seed: int = Field(0, ge=0)
    fraud_rate: float = Field(0.015, ge=0.0, le=0.2)
    drift: DriftConfig = DriftConfig()


@dataclass(frozen=True)
class World:
    """Users with their cards and devices, and merchants indexed by (country, category)."""

    user_ids: np.ndarray  # object str
    home: np.ndarray  # int16 index into ALL_COUNTRIES
    spend_mu: np.ndarray  # log of the user's typical amount
    spend_sigma: np.ndarray
    activity_cum: np.ndarray  # cumulative activity weights, for searchsorted
    card_start: np.ndarray
    card_count: np.ndarray
    card_ids: np.ndarray
    device_start: np.ndarray
    device_count: np.ndarray
    device_ids: np.ndarray
    merchant_ids: np.ndarray
    merchant_cat: np.ndarray  # int16 index into CATEGORIES
    block_start: np.ndarray  # [country, category] -> first merchant of that block
    block_count: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def pick_merchants(self, rng: np.random.Generator, country: np.ndarray,
                       category: np.ndarray) -> np.ndarray:
        """A merchant per row from the (country, category) block; low ranks are popular."""
        start = self.block_start[country, category]
        count = self.block_count[country, category]
        return start + (count * rng.random(len(country)) ** 2.0).astype(np.int64)

    def own_cards(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        return self.card_start[users] + (rng.random(len(users)) * self.card_count[users]).astype(
            np.int64)

    def own_devices(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        return self.device_start[users] + (
            rng.random(len(users)) * self.device_count[users]).astype(np.int64)


@dataclass
class Part:
    """A block of rows as integer codes (strings are built once, at the end)."""

    t: np.ndarray  # seconds after the window start
    user: np.ndarray
    card: np.ndarray
    device: np.ndarray  # >= len(world.device_ids): a device never seen before (fraud)
    merchant: np.ndarray
    country: np.ndarray
    channel: np.ndarray
    amount: np.ndarray
    pattern: np.ndarray  # LEGIT or a fraud pattern code

    @staticmethod
    def concat(parts: list[Part]) -> Part:
        return Part(**{f: np.concatenate([getattr(p, f) for p in parts])
                       for f in Part.__dataclass_fields__})


def hex_ids(rng: np.random.Generator, n: int, prefix: str,
            nbytes: int) -> tuple[np.ndarray, np.ndarray]:
    """n random ids like ``tx_9f3a…`` without a Python loop (hex digits via a byte table).

    Also returns the raw bytes as big-endian integers (one column per 8 bytes, most significant
    last, ready for ``np.lexsort``): they sort exactly like the id strings, and sorting numbers
    is far cheaper than sorting a million Python strings.
    """
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    width = len(head) + 2 * nbytes
    out = np.empty((n, width), dtype=np.uint8)
    out[:, : len(head)] = head
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out[:, len(head)::2] = digits[raw >> 4]
    out[:, len(head) + 1::2] = digits[raw & 15]
    ids = out.view(f"S{width}").ravel().astype(f"U{width}").astype(object)
    padded = np.zeros((n, -(-nbytes // 8) * 8), dtype=np.uint8)
    padded[:, :nbytes] = raw
    keys = padded.view(">u8").astype(np.uint64)
    return ids, keys[:, ::-1].T


def _numbered(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width)).astype(object)


def build_world(users: int, merchants: int, world_seed: int = 0) -> World:
    """The population; depends only on its three arguments, never on the transaction seed."""
    rng = np.random.default_rng(np.random.SeedSequence([_WORLD, world_seed, users, merchants]))
    home = rng.choice(len(COUNTRIES), size=users, p=COUNTRY_WEIGHTS).astype(np.int16)
    activity = rng.lognormal(0.0, 0.8, size=users)
    card_count = rng.integers(1, 4, size=users)
    device_count = rng.integers(1, 4, size=users)
    mu = rng.normal(np.log(35.0), 0.5, size=users)
    sigma = rng.uniform(0.4, 0.9, size=users)

    # Every (country, base category) gets one merchant, the rest follow the traffic weights.
    n_c, n_k = len(COUNTRIES), N_BASE
    grid = np.arange(n_c * n_k)
    rest = merchants - len(grid)
    base_w = _CAT_TABLE[:N_BASE, 0] / _CAT_TABLE[:N_BASE, 0].sum()
    m_country = np.concatenate([grid // n_k, rng.choice(n_c, size=rest, p=COUNTRY_WEIGHTS)])
    m_cat = np.concatenate([grid % n_k, rng.choice(n_k, size=rest, p=base_w)])
    # New-category merchants exist from the start but see traffic only under the drift knob;
    # their own stream keeps the base merchants identical whatever the knob says.
    new_rng = np.random.default_rng(np.random.SeedSequence([_WORLD, world_seed, merchants, 1]))
    per_block = max(2, merchants // 200)
    new_country = np.repeat(np.arange(n_c), len(NEW_CATEGORIES) * per_block)
    new_cat = N_BASE + np.tile(np.repeat(np.arange(len(NEW_CATEGORIES)), per_block), n_c)
    m_country = np.concatenate([m_country, new_country])
    m_cat = np.concatenate([m_cat, new_cat])
    tiebreak = np.concatenate([rng.random(merchants), new_rng.random(len(new_cat))])
    order = np.lexsort((tiebreak, m_cat, m_country))
    m_country, m_cat = m_country[order], m_cat[order]
    cells = m_country * len(CATEGORIES) + m_cat
    counts = np.bincount(cells, minlength=n_c * len(CATEGORIES))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    block_start = np.zeros((len(ALL_COUNTRIES), len(CATEGORIES)), dtype=np.int64)
    block_count = np.zeros_like(block_start)
    block_start[:n_c] = starts.reshape(n_c, -1)
    block_count[:n_c] = counts.reshape(n_c, -1)
    # Merchant numbers are shuffled so an id says nothing about country or category.
    merchant_ids = _numbered("m", len(m_cat), 6)[rng.permutation(len(m_cat))]

    return World(
        user_ids=_numbered("u", users, 7), home=home, spend_mu=mu, spend_sigma=sigma,
        activity_cum=np.cumsum(activity) / activity.sum(),
        card_start=np.concatenate([[0], np.cumsum(card_count)[:-1]]), card_count=card_count,
        card_ids=_numbered("c", int(card_count.sum()), 8),
        device_start=np.concatenate([[0], np.cumsum(device_count)[:-1]]),
        device_count=device_count, device_ids=_numbered("d", int(device_count.sum()), 8),
        merchant_ids=merchant_ids, merchant_cat=m_cat.astype(np.int16),
        block_start=block_start, block_count=block_count,
    )


def draw_times(rng: np.random.Generator, n: int, span_s: float, hours: np.ndarray,
               first_weekday: int = 0) -> np.ndarray:
    """Seconds after the window start: by day (weekends busier) and hour profile if the window
    spans whole days, else uniform (a live stream lasts seconds to minutes)."""
    if span_s < DAY_S:
        return rng.random(n) * span_s
    days = int(span_s // DAY_S)
    weekday = (first_weekday + np.arange(days)) % 7
    day_w = np.where(weekday >= 5, 1.15, 1.0)
    day = np.searchsorted(np.cumsum(day_w) / day_w.sum(), rng.random(n), side="right")
    hour = np.searchsorted(np.cumsum(hours) / hours.sum(), rng.random(n), side="right")
    return day * DAY_S + hour * 3600.0 + rng.random(n) * 3600.0


def round_amounts(amount: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Cents everywhere, whole multiples of 20 at ATMs, always inside the validator's range."""
    cents = np.round(np.clip(amount, 0.5, MAX_AMOUNT), 2)
    return np.where(channel == ATM, np.maximum(20.0, np.round(cents / 20.0) * 20.0), cents)


def channels_for(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    r = rng.random(len(category))[:, None]
    return (r > CHANNEL_CUM[category][:, :2]).sum(axis=1).astype(np.int8)


def legit_part(rng: np.random.Generator, world: World, n: int, span_s: float,
               first_weekday: int) -> Part:
    """Ordinary spending: active users more often, mostly at home, amounts around their level."""
    user = np.searchsorted(world.activity_cum, rng.random(n), side="right")
    user = np.minimum(user, world.n_users - 1)
    home = world.home[user].astype(np.int64)
    abroad = rng.random(n) < 0.03
    away = (home + 1 + rng.integers(0, len(COUNTRIES) - 1, size=n)) % len(COUNTRIES)
    country = np.where(abroad, away, home)
    base_w = np.cumsum(_CAT_TABLE[:N_BASE, 0]) / _CAT_TABLE[:N_BASE, 0].sum()
    category = np.searchsorted(base_w, rng.random(n), side="right")
    channel = channels_for(rng, category)
    z = rng.standard_normal(n)
    amount = np.exp(world.spend_mu[user] + world.spend_sigma[user] * z) * CATEGORY_SCALE[category]
    return Part(
        t=draw_times(rng, n, span_s, LEGIT_HOURS, first_weekday), user=user,
        card=world.own_cards(rng, user), device=world.own_devices(rng, user),
        merchant=world.pick_merchants(rng, country, category), country=country,
        channel=channel, amount=round_amounts(amount, channel),
        pattern=np.full(n, LEGIT, dtype=np.int8),
    )


def _assemble(ss: np.random.SeedSequence, world: World, n: int, start: pd.Timestamp,
              span_s: float, fraud_rate: float, drift: DriftConfig) -> pd.DataFrame:
    """Draw n rows in [start, start + span_s) and turn the codes into the event schema."""
    from dojo.ingestion import drift as drift_mod
    from dojo.ingestion import fraud_patterns

    s_legit, s_ct, s_ato, s_high, s_drift, s_ids, s_labels = (
        np.random.default_rng(child) for child in ss.spawn(7))
    n_fraud = round(n * fraud_rate)
    n_ct, n_ato = round(n_fraud * 0.40), round(n_fraud * 0.35)
    weekday = start.weekday()
    parts = [legit_part(s_legit, world, n - n_fraud, span_s, weekday)]
    next_device = len(world.device_ids)
    for pattern_fn, rng, count in ((fraud_patterns.card_testing, s_ct, n_ct),
                                   (fraud_patterns.account_takeover, s_ato, n_ato),
                                   (fraud_patterns.high_amount, s_high, n_fraud - n_ct - n_ato)):
        part = pattern_fn(rng, world, count, span_s, weekday, next_device)
        next_device = max(next_device, int(part.device.max(initial=-1)) + 1)
        parts.append(part)
    rows = Part.concat(parts)
    rows.t = np.minimum(rows.t, span_s - 0.001)  # bursts that start late stay in the window
    start_ns = start.value
    ts_ns = start_ns + np.round(rows.t * 1000.0).astype(np.int64) * 1_000_000
    drift_mod.apply(drift, s_drift, world, rows, ts_ns)

    tx_ids, tx_keys = hex_ids(s_ids, n, "tx_", 12)
    fresh = next_device - len(world.device_ids)
    device_ids = np.concatenate([world.device_ids, hex_ids(s_ids, fresh, "dx_", 5)[0]])
    label_delay_h = np.clip(s_labels.lognormal(np.log(36.0), 0.7, size=n), 1.0, 240.0)
    label_ns = ts_ns + np.round(label_delay_h * 3600.0).astype(np.int64) * 1_000_000_000

    # Sort by time, ties by id, so the offline store's (ts, transaction_id) order round-trips.
    order = np.lexsort((*tx_keys, ts_ns))
    ts_ns, label_ns, tx_ids = ts_ns[order], label_ns[order], tx_ids[order]
    r = Part(**{f: getattr(rows, f)[order] for f in Part.__dataclass_fields__})
    category = world.merchant_cat[r.merchant]
    day = ts_ns // 86_400_000_000_000
    day0 = int(day.min(initial=0))
    day_names = pd.to_datetime(np.arange(day0, int(day.max(initial=0)) + 1), unit="D")
    frame = pd.DataFrame({
        "transaction_id": tx_ids,
        "ts": pd.to_datetime(ts_ns, unit="ns", utc=True),
        "user_id": world.user_ids[r.user],
        "card_id": world.card_ids[r.card],
        "merchant_id": world.merchant_ids[r.merchant],
        "merchant_category": np.asarray(CATEGORIES, dtype=object)[category],
        "amount": r.amount,
        "currency": np.asarray(CURRENCIES, dtype=object)[_CURRENCY_CODE[r.country]],
        "country": np.asarray(ALL_COUNTRIES, dtype=object)[r.country],
        "device_id": device_ids[r.device],
        "channel": np.asarray(CHANNELS, dtype=object)[r.channel],
        "is_fraud": r.pattern != LEGIT,
        "fraud_pattern": np.asarray((None, *FRAUD_PATTERNS), dtype=object)[r.pattern],
        "label_ts": pd.to_datetime(label_ns, unit="ns", utc=True),
        "event_date": day_names.strftime("%Y-%m-%d").to_numpy(dtype=object)[day - day0],
    })
    return frame


def generate_history(config: HistoryConfig | None = None, **overrides: object) -> pd.DataFrame:
    """The offline-store frame: Transaction fields + is_fraud, fraud_pattern, label_ts,
    event_date, sorted by (ts, transaction_id). ``generate_history(rows=1000, seed=1)`` works
    too (keyword arguments override the config's fields)."""
    cfg = config or HistoryConfig()
    if overrides:
        cfg = HistoryConfig.model_validate({**cfg.model_dump(), **overrides})
    world = build_world(cfg.users, cfg.merchants, cfg.world_seed)
    start = pd.Timestamp(cfg.start_date, tz="UTC")
    ss = np.random.SeedSequence([_HISTORY, cfg.seed])
    return _assemble(ss, world, cfg.rows, start, cfg.days * DAY_S, cfg.fraud_rate, cfg.drift)


def generate_live(count: int, seed: int, *, start: datetime | None = None, span_s: float = 60.0,
                  users: int = 10_000, merchants: int = 2_000, world_seed: int = 0,
                  fraud_rate: float = 0.015, drift: DriftConfig | None = None) -> pd.DataFrame:
    """Rows for the live stream (same population as history, a different random stream).

    The stream replaces ``ts`` with the send time; the nominal times here only fix the order,
    which keeps a card-testing burst's rows close together in the stream.
    """
    world = build_world(users, merchants, world_seed)
    begin = pd.Timestamp(start if start is not None else datetime.now(UTC))
    begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin.tz_convert("UTC")
    ss = np.random.SeedSequence([_LIVE, seed])
    frame = _assemble(ss, world, count, begin, span_s, fraud_rate, drift or DriftConfig())
    return frame.drop(columns=["label_ts", "event_date"])


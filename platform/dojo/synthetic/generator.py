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

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from dojo.contracts import CHANNELS, CURRENCIES
from dojo.synthetic import drift as drift_mod
from dojo.synthetic import fraud_patterns
from dojo.synthetic.drift import DriftConfig
from dojo.synthetic.vocabulary import (
    ALL_COUNTRIES,
    CATEGORIES,
    CATEGORY_SCALE,
    CATEGORY_TABLE,
    COUNTRIES,
    CURRENCY_CODE,
    DAY_S,
    FRAUD_PATTERNS,
    LEGIT,
    LEGIT_HOURS,
    N_BASE,
)
from dojo.synthetic.world import (
    Part,
    World,
    build_world,
    channels_for,
    draw_times,
    hex_ids,
    round_amounts,
)

# Stage tags: each stage draws from its own child stream of the seed.
_HISTORY, _LIVE = 1, 2


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


def legit_part(rng: np.random.Generator, world: World, n: int, span_s: float,
               first_weekday: int) -> Part:
    """Ordinary spending: active users more often, mostly at home, amounts around their level."""
    user = np.searchsorted(world.activity_cum, rng.random(n), side="right")
    user = np.minimum(user, world.n_users - 1)
    home = world.home[user].astype(np.int64)
    abroad = rng.random(n) < 0.03
    away = (home + 1 + rng.integers(0, len(COUNTRIES) - 1, size=n)) % len(COUNTRIES)
    country = np.where(abroad, away, home)
    base_w = np.cumsum(CATEGORY_TABLE[:N_BASE, 0]) / CATEGORY_TABLE[:N_BASE, 0].sum()
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
        "currency": np.asarray(CURRENCIES, dtype=object)[CURRENCY_CODE[r.country]],
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


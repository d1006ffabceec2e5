"""The three fraud patterns the model has to learn, each drawn as a block of rows at once.

Why these three: they are the textbook cases with different signals, so a feature set has to
cover each:
- card testing: a stolen card number checked with a burst of tiny online purchases at
  merchants the owner never used, seconds apart, from a device never seen before. Caught by
  per-card counts in short windows (lab 16's streaming features).
- account takeover: the account is used from a new device AND a new country, a small probe
  first, then high amounts within the hour. Caught by "device/country seen before" features.
- high-amount outlier: the owner's own card and device at home, but an amount many times their
  usual level. Caught by amount relative to the user's history.

Every function returns exactly ``n`` rows. Devices numbered from ``device_base`` upwards are
brand new (the caller turns them into ids nobody else has).
"""

from __future__ import annotations

import numpy as np

from dojo.synthetic.vocabulary import (
    ACCOUNT_TAKEOVER,
    ALL_COUNTRIES,
    CARD_TESTING,
    CAT,
    COUNTRIES,
    ECOM,
    FRAUD_HOURS,
    HIGH_AMOUNT,
)
from dojo.synthetic.world import Part, World, channels_for, draw_times, round_amounts


def _empty() -> Part:
    ints = np.zeros(0, dtype=np.int64)
    return Part(t=np.zeros(0), user=ints, card=ints, device=ints, merchant=ints, country=ints,
                channel=np.zeros(0, dtype=np.int8), amount=np.zeros(0),
                pattern=np.zeros(0, dtype=np.int8))


def _session_sizes(rng: np.random.Generator, n: int, low: int, extra_mean: float) -> np.ndarray:
    """Sizes (>= 1) of consecutive sessions that add up to exactly n rows."""
    sizes = low + rng.poisson(extra_mean, size=n // low + 1)
    total = np.cumsum(sizes)
    count = int(np.searchsorted(total, n)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= int(total[count - 1]) - n
    return sizes


def _session_times(rng: np.random.Generator, sizes: np.ndarray, span_s: float, weekday: int,
                   mean_gap_s: float) -> np.ndarray:
    """Row times: a session start plus exponential gaps, without a per-session loop."""
    starts = draw_times(rng, len(sizes), span_s, FRAUD_HOURS, weekday)
    gaps = rng.exponential(mean_gap_s, size=int(sizes.sum()))
    first = np.cumsum(sizes) - sizes
    gaps[first] = 0.0
    steps = np.cumsum(gaps)
    return np.repeat(starts, sizes) + steps - np.repeat(steps[first], sizes)


def card_testing(rng: np.random.Generator, world: World, n: int, span_s: float, weekday: int,
                 device_base: int) -> Part:
    """Bursts of 3-15 purchases of 0.50-5.00 on one card, ~25 s apart, at random web shops."""
    if n == 0:
        return _empty()
    sizes = _session_sizes(rng, n, 3, 5.0)
    burst = np.repeat(np.arange(len(sizes)), sizes)
    victim = rng.integers(0, world.n_users, size=len(sizes))
    shop_country = rng.integers(0, len(COUNTRIES), size=n)
    shop_cat = np.where(rng.random(n) < 0.7, CAT["digital_goods"], CAT["entertainment"])
    return Part(
        t=_session_times(rng, sizes, span_s, weekday, 25.0),
        user=victim[burst],
        card=world.own_cards(rng, victim)[burst],
        device=device_base + burst,
        merchant=world.pick_merchants(rng, shop_country, shop_cat),
        country=rng.integers(0, len(ALL_COUNTRIES), size=len(sizes))[burst],
        channel=np.full(n, ECOM, dtype=np.int8),
        amount=np.round(rng.uniform(0.5, 5.0, size=n), 2),
        pattern=np.full(n, CARD_TESTING, dtype=np.int8),
    )


def account_takeover(rng: np.random.Generator, world: World, n: int, span_s: float,
                     weekday: int, device_base: int) -> Part:
    """Sessions of 2+ online purchases from a new device in a foreign country: a probe at the
    user's usual level, then 6-25x that, minutes apart."""
    if n == 0:
        return _empty()
    sizes = _session_sizes(rng, n, 2, 1.5)
    session = np.repeat(np.arange(len(sizes)), sizes)
    victim = rng.integers(0, world.n_users, size=len(sizes))
    user = victim[session]
    foreign = len(COUNTRIES) + rng.integers(0, len(ALL_COUNTRIES) - len(COUNTRIES),
                                            size=len(sizes))
    targets = np.array([CAT["electronics"], CAT["travel"], CAT["digital_goods"], CAT["retail"]])
    category = targets[rng.integers(0, len(targets), size=n)]
    shop_country = rng.integers(0, len(COUNTRIES), size=n)
    probe = np.zeros(n, dtype=bool)
    probe[np.cumsum(sizes) - sizes] = True
    factor = np.where(probe, rng.uniform(0.5, 1.5, size=n), rng.lognormal(np.log(12.0), 0.4,
                                                                          size=n))
    channel = np.full(n, ECOM, dtype=np.int8)
    return Part(
        t=_session_times(rng, sizes, span_s, weekday, 240.0),
        user=user,
        card=world.own_cards(rng, victim)[session],
        device=device_base + session,
        merchant=world.pick_merchants(rng, shop_country, category),
        country=foreign[session],
        channel=channel,
        amount=round_amounts(np.exp(world.spend_mu[user]) * factor, channel),
        pattern=np.full(n, ACCOUNT_TAKEOVER, dtype=np.int8),
    )


def high_amount(rng: np.random.Generator, world: World, n: int, span_s: float, weekday: int,
                device_base: int) -> Part:
    """Single purchases at home with the user's own card and device, 15-60x their level."""
    del device_base  # uses the owner's devices only
    if n == 0:
        return _empty()
    user = rng.integers(0, world.n_users, size=n)
    home = world.home[user].astype(np.int64)
    targets = np.array([CAT["electronics"], CAT["travel"], CAT["retail"]])
    category = targets[rng.integers(0, len(targets), size=n)]
    channel = channels_for(rng, category)
    amount = np.exp(world.spend_mu[user]) * rng.uniform(15.0, 60.0, size=n)
    return Part(
        t=draw_times(rng, n, span_s, FRAUD_HOURS, weekday),
        user=user,
        card=world.own_cards(rng, user),
        device=world.own_devices(rng, user),
        merchant=world.pick_merchants(rng, home, category),
        country=home,
        channel=channel,
        amount=round_amounts(amount, channel),
        pattern=np.full(n, HIGH_AMOUNT, dtype=np.int8),
    )

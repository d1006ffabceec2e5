"""The synthetic population (users, cards, devices, merchants) and the row blocks drawn from it.

Why separate from the generator: the fraud patterns and the drift knobs draw rows for the same
world with the same helpers (times, amounts, channels), and the generator assembles them. With
the world here, each of those modules depends on this one and none on another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dojo.synthetic.vocabulary import (
    ALL_COUNTRIES,
    ATM,
    CATEGORIES,
    CATEGORY_TABLE,
    CHANNEL_CUM,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    DAY_S,
    MAX_AMOUNT,
    N_BASE,
    NEW_CATEGORIES,
)

# Stage tag of the world's own random stream (the generator's stages use 1 and 2).
WORLD_STAGE = 3

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
    rng = np.random.default_rng(np.random.SeedSequence([WORLD_STAGE, world_seed, users, merchants]))
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
    base_w = CATEGORY_TABLE[:N_BASE, 0] / CATEGORY_TABLE[:N_BASE, 0].sum()
    m_country = np.concatenate([grid // n_k, rng.choice(n_c, size=rest, p=COUNTRY_WEIGHTS)])
    m_cat = np.concatenate([grid % n_k, rng.choice(n_k, size=rest, p=base_w)])
    # New-category merchants exist from the start but see traffic only under the drift knob;
    # their own stream keeps the base merchants identical whatever the knob says.
    new_rng = np.random.default_rng(np.random.SeedSequence([WORLD_STAGE, world_seed, merchants, 1]))
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



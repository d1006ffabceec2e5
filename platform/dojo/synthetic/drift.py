"""Drift knobs: ways the generated data departs from what the champion model was trained on.

Why three kinds: a drift monitor must tell them apart, and each teaches something different.
- covariate shift (``amount_shift``): every amount is multiplied, P(x) moves, the fraud rule
  does not; PSI on ``amount`` fires, the model may still be right.
- new merchant categories (``new_categories``): values the model has never seen; a share of
  ordinary spending moves to them (a categorical drift and an unseen-value check).
- concept drift (``concept_drift``): the fraud itself changes. Account takeovers and high-amount
  fraud stop coming from a new device abroad online and become cash-outs at ATMs in the victim's
  home country on the victim's own device, so P(fraud | x) changes while P(x) barely moves;
  only labels reveal it.

Drift applies to rows at or after ``start`` (all rows when it is None), so one history can hold
a clean reference period followed by a drifted one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dojo.synthetic import vocabulary as v
from dojo.synthetic.vocabulary import NEW_CATEGORIES
from dojo.synthetic.world import Part, World, channels_for, round_amounts


class DriftConfig(BaseModel):
    """The drift knobs; the default changes nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_shift: float = Field(1.0, gt=0.0, le=100.0)
    new_categories: int = Field(0, ge=0, le=len(NEW_CATEGORIES))
    new_category_share: float = Field(0.2, ge=0.0, le=1.0)
    concept_drift: bool = False
    start: datetime | None = None

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def active(self) -> bool:
        return self.amount_shift != 1.0 or self.new_categories > 0 or self.concept_drift


def apply(drift: DriftConfig, rng: np.random.Generator, world: World, rows: Part,
          ts_ns: np.ndarray) -> None:
    """Change ``rows`` in place for the rows inside the drift window."""
    if not drift.active or len(ts_ns) == 0:
        return
    start_ns = -(2**62) if drift.start is None else int(drift.start.timestamp() * 1e9)
    window = ts_ns >= start_ns
    n = len(ts_ns)

    if drift.concept_drift:
        moved = window & np.isin(rows.pattern, (v.ACCOUNT_TAKEOVER, v.HIGH_AMOUNT))
        users = rows.user[moved]
        home = world.home[users].astype(np.int64)
        cash = np.full(len(users), v.CAT["cash_withdrawal"])
        rows.merchant[moved] = world.pick_merchants(rng, home, cash)
        rows.country[moved] = home
        rows.device[moved] = world.own_devices(rng, users)
        rows.channel[moved] = v.ATM
        level = np.exp(world.spend_mu[users])
        rows.amount[moved] = level * rng.lognormal(np.log(12.0), 0.3, size=len(users))

    if drift.new_categories:
        chosen = window & (rows.pattern == v.LEGIT) & (rng.random(n) < drift.new_category_share)
        k = int(chosen.sum())
        new_cat = v.N_BASE + rng.integers(0, drift.new_categories, size=k)
        old_cat = world.merchant_cat[rows.merchant[chosen]]
        rows.merchant[chosen] = world.pick_merchants(rng, rows.country[chosen], new_cat)
        rows.channel[chosen] = channels_for(rng, new_cat)
        rows.amount[chosen] *= v.CATEGORY_SCALE[new_cat] / v.CATEGORY_SCALE[old_cat]

    if drift.amount_shift != 1.0:
        rows.amount[window] *= drift.amount_shift
    rows.amount[window] = round_amounts(rows.amount[window], rows.channel[window])

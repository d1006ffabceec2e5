"""The stream processor's adaptive batch size: grows under a backlog, within its time budget."""

from __future__ import annotations

import pytest

from dojo.features.batch_sizing import AdaptiveBatchSize


def simulate(sizer: AdaptiveBatchSize, fixed_s: float, per_event_s: float,
             batches: int) -> list[int]:
    """Feed the sizer batches that cost fixed + per_event * n (a full backlog: n = size)."""
    sizes = []
    for _ in range(batches):
        n = sizer.size
        sizes.append(n)
        sizer.observe(n, fixed_s + per_event_s * n)
    return sizes


def test_a_backlog_grows_the_batch_to_what_fits_in_the_budget() -> None:
    # 150 ms per batch plus 0.2 ms per event, 1 s budget: (1 - 0.15) / 0.0002 = 4250 events.
    sizer = AdaptiveBatchSize(floor=500, ceiling=10_000, budget_s=1.0)
    sizes = simulate(sizer, fixed_s=0.15, per_event_s=0.0002, batches=40)
    assert sizes[0] == 500
    assert sizes == sorted(sizes), "the size only grows while the batches stay under budget"
    assert sizes[-1] == pytest.approx(4250, rel=0.02)
    final = sizes[-1]
    assert 0.15 + 0.0002 * final <= 1.0 + 1e-9, "the batch it settled on keeps the budget"


def test_the_ceiling_and_the_floor_hold() -> None:
    cheap = AdaptiveBatchSize(floor=100, ceiling=2000, budget_s=1.0)
    assert simulate(cheap, fixed_s=0.01, per_event_s=1e-6, batches=10)[-1] == 2000
    slow = AdaptiveBatchSize(floor=100, ceiling=2000, budget_s=0.05)
    assert simulate(slow, fixed_s=0.2, per_event_s=0.001, batches=10)[-1] == 100


def test_slower_writes_shrink_the_batch_again() -> None:
    sizer = AdaptiveBatchSize(floor=50, ceiling=10_000, budget_s=1.0)
    grown = simulate(sizer, fixed_s=0.05, per_event_s=0.0002, batches=30)[-1]
    shrunk = simulate(sizer, fixed_s=0.05, per_event_s=0.002, batches=30)[-1]
    assert grown > 4000 and shrunk == pytest.approx(475, rel=0.05)


def test_a_ceiling_at_or_below_the_floor_means_fixed_batches() -> None:
    sizer = AdaptiveBatchSize(floor=500, ceiling=500, budget_s=1.0)
    assert not sizer.adaptive
    assert simulate(sizer, fixed_s=0.01, per_event_s=1e-6, batches=5) == [500] * 5


def test_empty_batches_change_nothing() -> None:
    sizer = AdaptiveBatchSize(floor=10, ceiling=1000, budget_s=1.0)
    assert sizer.observe(0, 0.3) == 10 and sizer.per_event_s is None

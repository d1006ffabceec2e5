"""How many events the stream processor takes in its next batch: adaptive, within a time budget.

Why adaptive: a batch has a fixed cost (one offline file, one Feast push with its registry
lookups, one SQLite transaction, one offset commit) and a cost per event. Small batches keep an
event's wait short when the stream is quiet; under a backlog they spend most of their time on
the fixed cost, and a user seen twice in a batch is pushed once, not twice. So the size follows
the measured cost: the next batch is as large as fits in `budget_s`, between `floor` and
`ceiling`. A batch of n events takes about F + c·n seconds; estimating the per-event time from
the last batches and sizing n = budget / (time per event) converges to the n where
F + c·n = budget, which is the bound on the time an event waits for the batch it is in.

When the stream is quiet, a poll returns what is there, so the size is only a ceiling: a trickle
of events is still written at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AdaptiveBatchSize:
    """The ``max_records`` of the next poll; ``observe`` each batch's size and duration."""

    floor: int
    ceiling: int
    budget_s: float
    smoothing: float = 0.3  # weight of the newest batch in the per-event estimate
    per_event_s: float | None = None

    def __post_init__(self) -> None:
        if self.floor < 1:
            raise ValueError("floor must be at least 1")
        self.ceiling = max(self.ceiling, self.floor)
        self.size = self.floor

    @property
    def adaptive(self) -> bool:
        return self.ceiling > self.floor

    def observe(self, events: int, seconds: float) -> int:
        """Update the estimate from one batch; returns the next size."""
        if events <= 0 or seconds <= 0 or not self.adaptive:
            return self.size
        per_event = seconds / events
        if self.per_event_s is None:
            self.per_event_s = per_event
        else:
            self.per_event_s += self.smoothing * (per_event - self.per_event_s)
        wanted = int(self.budget_s / self.per_event_s)
        self.size = max(self.floor, min(self.ceiling, wanted))
        return self.size

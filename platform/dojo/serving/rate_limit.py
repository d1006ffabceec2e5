"""A token bucket per API key: a steady rate with room for short bursts, then 429.

Why a token bucket: it allows a burst up to its capacity (a client's retry after a network
blip), then holds the client to the refill rate, and needs two numbers per key. A fixed window
would let a client send twice the limit across a window boundary.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float  # 0 when allowed; else seconds until one token is back


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` per second; one per request."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def take(self, now: float, cost: float = 1.0) -> Decision:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return Decision(True, 0.0)
        return Decision(False, (cost - self.tokens) / self.rate)


class RateLimiter:
    """Buckets by key. The number of keys is bounded (least recently seen dropped first), so
    a client inventing a new key per request cannot grow the server's memory without limit."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def reconfigure(self, rate: float, burst: int) -> None:
        """New limits for every key; buckets start over full (a lab lowers them at run time)."""
        with self._lock:
            self.rate, self.burst = rate, burst
            self._buckets.clear()

    def check(self, key: str) -> Decision:
        if not self.enabled:
            return Decision(True, 0.0)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket.take(now)


def retry_after_header(decision: Decision) -> str:
    """Retry-After takes whole seconds; round up so a client that obeys it succeeds."""
    return str(max(1, math.ceil(decision.retry_after_s)))

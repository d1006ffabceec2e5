"""Which model answers a request: the champion, or the challenger as shadow or canary.

Why hash user_id (not a random draw per request): a canary user sees one model consistently,
so the comparison is per user and a user's decisions do not flip between requests. blake2b is
stable across processes and machines (Python's hash() is salted per process), so every
replica routes a user the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Mode = Literal["off", "shadow", "canary"]
CHAMPION, CANARY, SHADOW = "champion", "canary", "shadow"


def user_bucket(user_id: str) -> float:
    """A stable number in [0, 1) for a user."""
    digest = hashlib.blake2b(user_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class RoutingPolicy:
    """Immutable: the admin endpoint swaps in a new policy instead of editing this one."""

    mode: Mode = "off"
    canary_share: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.canary_share <= 1.0:
            raise ValueError("canary_share must be within [0, 1]")

    def variant(self, user_id: str) -> str:
        """`canary` for the configured share of users in canary mode, else `champion`."""
        if self.mode == "canary" and user_bucket(user_id) < self.canary_share:
            return CANARY
        return CHAMPION

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"

    @property
    def needs_challenger(self) -> bool:
        return self.mode != "off"

"""An LRU cache of loaded model versions, bounded by count and by bytes.

Why both bounds: a count alone lets three 400 MB versions exhaust a 1 GB pod, and bytes alone
let hundreds of tiny versions pile up. Keeping recent versions loaded makes a rollback (the
alias moving back) a reference swap instead of a download and a deserialisation.

An evicted version that is still serving keeps working: the cache drops its own reference,
the caller's stays valid until it moves on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Key -> value with a size per value; least recently used entries leave first."""

    def __init__(self, max_items: int, max_bytes: int,
                 on_evict: Callable[[str, V], None] | None = None) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("max_items and max_bytes must be at least 1")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._on_evict = on_evict
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: str) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: str, value: V, size: int) -> list[str]:
        """Insert (or refresh) ``key``; return the keys evicted to make room.

        A value larger than the whole byte bound is still kept, alone: the server must be
        able to serve its champion even when the bound was set too small (it is logged).
        """
        evicted: list[tuple[str, V]] = []
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while len(self._entries) > 1 and (
                    len(self._entries) > self.max_items or self._bytes > self.max_bytes):
                old_key, (old_value, old_size) = self._entries.popitem(last=False)
                self._bytes -= old_size
                self.evictions += 1
                evicted.append((old_key, old_value))
        for old_key, old_value in evicted:
            if self._on_evict is not None:
                self._on_evict(old_key, old_value)
        return [old_key for old_key, _ in evicted]

    def keys(self) -> list[str]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

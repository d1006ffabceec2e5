"""The serving algorithms on their own: LRU cache of model versions, token bucket, routing."""

from __future__ import annotations

import pytest

from dojo.serving.lru_cache import LRUCache
from dojo.serving.rate_limit import RateLimiter, TokenBucket, retry_after_header
from dojo.serving.routing import CANARY, CHAMPION, RoutingPolicy, user_bucket


def test_lru_evicts_the_least_recently_used_first() -> None:
    evicted: list[str] = []
    cache: LRUCache[str] = LRUCache(3, 10_000, on_evict=lambda key, _v: evicted.append(key))
    for key in ("v1", "v2", "v3"):
        cache.put(key, key.upper(), 10)
    assert cache.get("v1") == "V1"  # v1 is now the most recent; v2 the least
    assert cache.put("v4", "V4", 10) == ["v2"]
    assert cache.keys() == ["v3", "v1", "v4"]
    assert cache.get("v2") is None
    cache.put("v5", "V5", 10)
    assert evicted == ["v2", "v3"] and cache.evictions == 2
    assert (cache.hits, cache.misses) == (1, 1)


def test_lru_byte_bound_evicts_until_the_new_entry_fits() -> None:
    cache: LRUCache[str] = LRUCache(10, 100)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.total_bytes == 80
    assert cache.put("c", "C", 50) == ["a"]  # 130 > 100: the oldest goes, 90 remain
    assert cache.total_bytes == 90 and cache.keys() == ["b", "c"]
    assert cache.put("huge", "H", 500) == ["b", "c"]  # alone over the bound: kept, alone
    assert cache.keys() == ["huge"] and cache.total_bytes == 500


def test_lru_refreshing_a_key_replaces_its_size() -> None:
    cache: LRUCache[str] = LRUCache(2, 100)
    cache.put("a", "A", 60)
    cache.put("a", "A2", 30)
    assert cache.total_bytes == 30 and len(cache) == 1 and cache.get("a") == "A2"
    with pytest.raises(ValueError):
        LRUCache(0, 10)


def test_token_bucket_spends_the_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3, now=0.0)
    assert all(bucket.take(0.0).allowed for _ in range(3))
    refused = bucket.take(0.0)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(0.5)
    assert not bucket.take(0.25).allowed  # half a token back
    assert bucket.take(0.5).allowed  # one whole token after 1/rate seconds
    assert not bucket.take(0.5).allowed
    assert bucket.take(100.0).allowed and bucket.tokens == pytest.approx(2.0)  # capped at 3


def test_rate_limiter_keeps_one_bucket_per_key_and_bounds_the_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=2, clock=lambda: now[0])
    assert limiter.check("a").allowed and limiter.check("a").allowed
    refused = limiter.check("a")
    assert not refused.allowed and retry_after_header(refused) == "1"
    assert limiter.check("b").allowed  # another key, its own bucket
    limiter.check("c")  # a third key pushes out the least recently seen ("a")
    assert limiter.check("a").allowed  # "a" starts over with a full bucket
    now[0] = 10.0
    assert limiter.check("b").allowed
    assert RateLimiter(rate=0, burst=1).check("x").allowed  # 0 = off


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    bucket = TokenBucket(rate=0.4, capacity=1, now=0.0)
    bucket.take(0.0)
    assert retry_after_header(bucket.take(0.0)) == "3"  # 2.5 s -> 3, never 2


def test_canary_is_sticky_per_user_and_close_to_its_share() -> None:
    policy = RoutingPolicy("canary", 0.2)
    users = [f"u{i:07d}" for i in range(20_000)]
    first = [policy.variant(u) for u in users]
    assert first == [policy.variant(u) for u in users]  # same user, same variant
    share = first.count(CANARY) / len(users)
    assert abs(share - 0.2) < 0.015, share
    assert set(first) == {CANARY, CHAMPION}


def test_routing_modes() -> None:
    assert RoutingPolicy("shadow", 1.0).variant("u1") == CHAMPION  # shadow never answers
    assert RoutingPolicy("off", 1.0).variant("u1") == CHAMPION
    assert RoutingPolicy("canary", 1.0).variant("u1") == CANARY
    assert not RoutingPolicy("off").needs_challenger and RoutingPolicy("shadow").shadow
    assert 0.0 <= user_bucket("") < 1.0
    with pytest.raises(ValueError):
        RoutingPolicy("canary", 1.5)

"""Counting hits per key in the cache, for public endpoints and sign-in (DESIGN.md §9). In
production the cache is Redis, whose INCR is atomic: concurrent requests never share a count."""

from django.core.cache import cache


def count(key: str, *, seconds: int) -> int:
    """Count one hit on ``key`` and return the hits so far in its window, which starts with
    the first hit and lasts ``seconds``."""
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        return 1


def hit(key: str, *, limit: int, seconds: int) -> bool:
    """Count one hit on ``key``; whether it is still within ``limit`` hits per window. Keys
    of a clinic's pages must include its schema: a cache is shared by every tenant."""
    return count(key, seconds=seconds) <= limit


def peek(key: str) -> int:
    """The hits counted on ``key`` in its current window, without counting one: for a check
    that must refuse before doing the work it guards."""
    return cache.get(key) or 0

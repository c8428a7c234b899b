"""Counting hits per key in the cache, for public endpoints (DESIGN.md §9)."""

from django.core.cache import cache


def hit(key: str, *, limit: int, seconds: int) -> bool:
    """Count one hit on ``key``; whether it is still within ``limit`` hits per window. Keys
    of a clinic's pages must include its schema: a cache is shared by every tenant."""
    cache.add(key, 0, timeout=seconds)
    try:
        hits = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        hits = 1
    return hits <= limit

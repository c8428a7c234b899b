"""Whole-page cache for anonymous patients.

Keys go through the cache's KEY_FUNCTION (django_tenants.cache.make_key), which puts the
tenant's schema in front of every key; the host is in the key as well. Any publish, unpublish,
move or delete in a tenant changes that tenant's generation, which retires all its cached
pages at once in every web process (the cache is shared: files locally, Redis in production).
"""

import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache

GENERATION_KEY = "cms:pages:generation"
TIMEOUT = 600  # seconds; publishing purges sooner


def generation() -> str:
    current = cache.get(GENERATION_KEY)
    if current is None:
        current = uuid.uuid4().hex
        cache.add(GENERATION_KEY, current, None)
        current = cache.get(GENERATION_KEY, current)
    return current


def pages_changed(**_signal_kwargs) -> None:
    """Retire every cached page of the current tenant."""
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)


def cacheable_request(request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and not request.GET
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def page_key(request) -> str:
    raw = "|".join(
        (generation(), request.get_host(), request.path, getattr(request, "LANGUAGE_CODE", ""))
    )
    return "cms:page:" + hashlib.sha256(raw.encode()).hexdigest()


def cacheable_response(response) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and "private" not in response.get("Cache-Control", "")
    )

"""Rate limits count atomically on the shared Redis cache production requires (issue 18,
medium 7): concurrent calls never get past the limit together."""

import threading

import pytest
from django.core.cache import caches

from saas import ratelimit

REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        }
    }
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def test_700_calls_from_8_threads_pass_a_600_limit_exactly_600_times(redis_cache):
    passed = []
    lock = threading.Lock()

    def caller():
        for _ in range(700 // 8 + 1):
            allowed = ratelimit.hit("api:requests:alpha:1:29000000", limit=600, seconds=60)
            with lock:
                passed.append(allowed)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(passed) == 8 * (700 // 8 + 1)
    assert sum(passed) == 600

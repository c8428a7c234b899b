"""Test profile: a fast password hasher and an in-memory outbox; everything else real."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run inline in most tests; tests/saas/test_celery.py runs a real worker on a real
# (filesystem) transport to test the queue itself.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Close each thread's connection after its request or task: worker and live-server threads
# must not keep the test database open when it is dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
TENANT_POOL_SIZE = 0
TENANT_POOL_MAX = 0  # no refill after a claim unless a test asks for one
# Serve static files straight from the apps: no collectstatic before a test run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Stripe: tests/billing runs a fake Stripe API on 127.0.0.1 and signs webhooks with this.
STRIPE_SECRET_KEY = "sk_test_carebridge"
STRIPE_WEBHOOK_SECRET = "whsec_test_carebridge"
STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: a test that forgets the fake fails
# One process: an in-memory cache (still keyed per tenant); uploads in a folder of their own.
CACHES["default"] = {  # noqa: F405
    **CACHES["default"],  # noqa: F405
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "carebridge-tests",
}
MEDIA_ROOT = DATA_DIR / "test-media"  # noqa: F405

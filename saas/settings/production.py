"""Production: secrets must come from the environment; HTTPS everywhere.
``DJANGO_SETTINGS_MODULE=saas.settings.production manage.py check --deploy`` is clean."""

from saas.env import env_bool, env_choice, env_int, env_str, mailers_from_url

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")  # no default: refuse to start without one
# The master keys of the patient fields encrypted at rest: never the local default.
FIELD_ENCRYPTION_KEYS = [
    key.strip() for key in env_str("FIELD_ENCRYPTION_KEYS").split(",") if key.strip()
]
# No default either: "localhost" would make every clinic's link in every email wrong.
BASE_DOMAIN = env_str("BASE_DOMAIN")
WAGTAILADMIN_BASE_URL = env_str("WAGTAILADMIN_BASE_URL", f"https://{BASE_DOMAIN}")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"CareBridge <no-reply@{BASE_DOMAIN}>")
MAILERS = mailers_from_url(env_str("EMAIL_URL"))  # a real mail server, no file default
# Redis, shared by every web and worker process: rate limits count with its atomic INCR (a
# file cache's get-then-set let 700 calls through a 600-a-minute limit under 8 threads) and
# the cache is one for all nodes.
CACHES["default"] |= {  # noqa: F405
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": env_str("REDIS_URL"),
}
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
LANGUAGE_COOKIE_SECURE = True
# Log collectors read one JSON object a line (saas/logs.py); LOG_FORMAT=plain for a terminal.
LOG_FORMAT = env_choice("LOG_FORMAT", "json", ("plain", "json"))
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405

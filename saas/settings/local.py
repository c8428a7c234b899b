"""Local development: DEBUG on by default, everything else from base."""

from saas.env import env_bool, env_str

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
TENANT_URL_SCHEME = env_str("TENANT_URL_SCHEME", "http")
TENANT_URL_PORT = env_str("TENANT_URL_PORT", "8000")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

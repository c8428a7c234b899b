"""Production settings, served over plain HTTP on loopback for the whole-stack test: the test's
HTTP client does not send Secure cookies over http://, and nothing here terminates TLS.
Everything else is saas.settings.production as the image runs it."""

from saas.settings.production import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False

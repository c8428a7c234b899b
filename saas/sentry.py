"""Errors to Sentry when SENTRY_DSN is set (Django and Celery, with beat's schedules as
cron monitors), without patient data: no request bodies, query strings, cookies, frame
locals or command-line arguments, and a user is sent by id only."""

from urllib.parse import urlsplit, urlunsplit

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def sentry_init(*, dsn: str, environment: str, release: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        send_default_pii=False,
        include_local_variables=False,  # a frame's locals may hold a patient's record
        max_request_body_size="never",
        before_send=event_scrub,
    )


def event_scrub(event: dict, hint: dict | None = None) -> dict:
    """What the SDK still sends of a request or a process, less anything a person could be
    found by."""
    request = event.get("request") or {}
    for key in ("query_string", "cookies", "data"):
        request.pop(key, None)
    if url := request.get("url"):
        request["url"] = urlunsplit(urlsplit(url)._replace(query="", fragment=""))
    # A command's arguments can name a person (provision_tenant --admin-email …).
    (event.get("extra") or {}).pop("sys.argv", None)
    if user := event.get("user"):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return event

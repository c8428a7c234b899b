"""Log lines an operator can follow and nobody can mine for patients.

Every record carries the request id (the caller's ``X-Request-ID`` when it is a plain token,
else a new one, echoed in the response), the tenant schema the connection is in (requests
and Celery tasks alike) and the signed-in user's id: ids only, never names, phone numbers or
query strings. ``LOG_FORMAT=json`` (production's default) writes one JSON object a line."""

import contextvars
import logging
import re
import time
import uuid

from django.db import connection

from .links import secret_links_masked

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")
requests_log = logging.getLogger("carebridge.request")


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``tenant`` and ``user_id`` to every record. Django's own error
    records carry the request object, whose text is the full URL with its query string (a
    searched name): it is cut down to the method and path, and the token of a secret link in
    a path (a patient's survey link, a password reset) is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = f"{request.method} {secret_links_masked(request.path)}"
        if isinstance(record.args, tuple):  # Django's "Not Found: %s" names the path
            record.args = tuple(
                secret_links_masked(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        record.request_id = _request_id.get()
        record.tenant = getattr(connection, "schema_name", None)
        record.user_id = _user_id.get()
        return True


class RequestContextMiddleware:
    """After authentication: names the request for the logs, and the response for the
    caller (``X-Request-ID``), so a clinic's report of an error can be found in the logs.
    Writes one access line per request with the URL *pattern* (``tasks/<int:task_id>/``),
    never the path or query string, which may hold a searched name or a number."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _TOKEN.fullmatch(given) else uuid.uuid4().hex
        user = getattr(request, "user", None)
        tokens = (
            _request_id.set(request_id),
            _user_id.set(user.pk if user is not None and user.is_authenticated else None),
        )
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            match = request.resolver_match
            requests_log.info(
                "%s %s %s",
                request.method,
                match.route if match else "(no route)",
                response.status_code,
                extra={
                    "method": request.method,
                    "route": match.route if match else None,
                    "view": match.view_name if match else None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        finally:
            _user_id.reset(tokens[1])
            _request_id.reset(tokens[0])
        response.headers["X-Request-ID"] = request_id
        return response

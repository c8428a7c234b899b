"""``Authorization: Bearer <key>`` for ninja, the allowance of requests per key, and the
scope check of each endpoint."""

import math

from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from billing import entitlements
from saas import clock, ratelimit

from ..services.api_keys import KeyRefused, api_key_check
from .errors import ApiError

RATE_WINDOW_SECONDS = 60


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token):
        try:
            api_key = api_key_check(token)
        except KeyRefused as exc:
            messages = {
                "invalid_key": _("This API key is not valid on this clinic's domain."),
                "key_revoked": _("This API key has been revoked."),
            }
            raise ApiError(401, exc.code, messages[exc.code]) from exc
        if not entitlements.feature_allowed(connection.tenant, "api_access"):
            raise ApiError(
                403,
                "plan_without_api",
                _("The clinic's plan does not include API access; an upgrade turns it on."),
            )
        rate_limit(api_key)
        return api_key


def rate_limit(api_key, *, now: float | None = None) -> None:
    """At most API_REQUESTS_PER_MINUTE requests per key in each clock minute, else a 429 that
    says when the next minute starts. A window aligned to the clock needs one counter and
    tells the client exactly when to come back; a burst across a boundary may reach twice the
    allowance, which the database bears. Key ids repeat between clinics (each schema counts
    from 1), so the counter's key names the schema, besides the cache's own tenant prefix."""
    now = clock.epoch() if now is None else now
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"api:requests:{connection.schema_name}:{api_key.pk}:{window}"
    limit = settings.API_REQUESTS_PER_MINUTE
    if ratelimit.hit(key, limit=limit, seconds=RATE_WINDOW_SECONDS):
        return
    retry_after = max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - now))
    raise ApiError(
        429,
        "rate_limited",
        _(
            "Too many requests with this API key: at most %(limit)s a minute. Try again in "
            "%(seconds)s seconds."
        )
        % {"limit": limit, "seconds": retry_after},  # fmt: skip
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )


def scope_require(request, scope: str) -> None:
    if scope not in request.auth.scopes:
        raise ApiError(
            403,
            "scope_missing",
            _("This API key lacks the “%(scope)s” scope.") % {"scope": scope},
        )

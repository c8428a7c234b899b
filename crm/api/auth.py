"""``Authorization: Bearer <key>`` for ninja, and the scope check of each endpoint."""

from django.db import connection
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from billing import entitlements

from .errors import ApiError
from .keys import KeyRefused, api_key_check


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
        return api_key


def scope_require(request, scope: str) -> None:
    if scope not in request.auth.scopes:
        raise ApiError(
            403,
            "scope_missing",
            _("This API key lacks the “%(scope)s” scope.") % {"scope": scope},
        )

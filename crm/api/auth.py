"""``Authorization: Bearer <key>`` for ninja, and the scope check of each endpoint."""

from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from .errors import ApiError
from .keys import KeyRefused, api_key_check


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token):
        try:
            return api_key_check(token)
        except KeyRefused as exc:
            messages = {
                "invalid_key": _("This API key is not valid on this clinic's domain."),
                "key_revoked": _("This API key has been revoked."),
            }
            raise ApiError(401, exc.code, messages[exc.code]) from exc


def scope_require(request, scope: str) -> None:
    if scope not in request.auth.scopes:
        raise ApiError(
            403,
            "scope_missing",
            _("This API key lacks the “%(scope)s” scope.") % {"scope": scope},
        )

"""Every error of the API is JSON ``{"code": ..., "message": ...}``: the code is stable (an
integrator's program branches on it), the message is for the person reading the log."""

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers=None, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers = headers or {}


def _response(api: NinjaAPI, request, status: int, code: str, message: str, **extra):
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


def handlers_install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        response = _response(api, request, exc.status, exc.code, exc.message, **exc.extra)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = _response(
            api,
            request,
            401,
            "unauthenticated",
            _("Send an API key of this clinic as “Authorization: Bearer <key>”."),
        )
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        # pydantic's own detail (where, what) is useful to a developer; keep it, under a
        # stable code.
        return _response(
            api,
            request,
            422,
            "invalid_request",
            _("The request does not match the API schema."),
            errors=[
                {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                for e in exc.errors
            ],
        )

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        # get_object_or_404 in an endpoint: the same body as every other error.
        return _response(api, request, 404, "not_found", _("Nothing with this id here."))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        return _response(
            api, request, exc.status_code, codes.get(exc.status_code, "error"), str(exc)
        )

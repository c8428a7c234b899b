"""Request-level rules: probes before tenant routing; then the tenant's language, a staff
session's idle timeout and its pages kept out of caches, two-step sign-in, and the tenant's
suspension."""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from saas import clock, health, metrics, sessions, two_step

_SUPPORTED = {code for code, _name in settings.LANGUAGES}


class ProbeMiddleware:
    """``/healthz``, ``/readyz`` and ``/metrics`` (token only) on any host (a probe or a
    scraper uses the pod's address, which no clinic's Domain holds) and over plain HTTP
    (probes do not follow the HTTPS redirect)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return health.liveness(request)
        if request.path == "/readyz":
            return async_to_sync(health.readiness)(request)
        if request.path == "/metrics":
            return metrics.metrics_view(request)
        return self.get_response(request)


class TenantLocaleMiddleware:
    """Language: the user's explicit choice (language cookie), else the tenant's locale, else
    the browser's. Replaces django.middleware.locale.LocaleMiddleware: no URL prefixes.
    Times are shown in the tenant's time zone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        is_tenant = tenant is not None and not tenant.is_public
        if is_tenant:
            timezone.activate(tenant.timezone)
        else:
            timezone.deactivate()
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in _SUPPORTED:
            if is_tenant:
                language = tenant.locale
            else:
                language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class SuspendedTenantMiddleware:
    """A suspended tenant's staff may sign in and look, but every change is refused with the
    'account suspended' page."""

    SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
    # A suspended tenant can still subscribe or pay, which is how it gets out of suspension.
    ALWAYS_ALLOWED = (
        "login",
        "two_step_verify",
        "two_step_setup",
        "logout",
        "set_language",
        "billing:checkout",
        "billing:portal",
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not tenant.is_public and tenant.is_suspended:
            allowed = {reverse(name) for name in self.ALWAYS_ALLOWED}
            if request.method not in self.SAFE_METHODS and request.path not in allowed:
                return render(request, "saas/suspended.html", {"tenant": tenant}, status=403)
        return self.get_response(request)


class StaffSessionMiddleware:
    """A signed-in session left idle for SESSION_IDLE_SECONDS ends (a workstation left open on
    a ward), besides SESSION_COOKIE_AGE's absolute limit; and what a signed-in user is shown
    carries patient data, so it is never stored by a browser or proxy cache."""

    # Recorded to the minute: a session is written once a minute at most, not on every page.
    GRAIN = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = clock.epoch()
            last_seen = request.session.get(sessions.LAST_SEEN)
            if last_seen is not None and now - last_seen > settings.SESSION_IDLE_SECONDS:
                logout(request)
                return redirect_to_login(request.path)
            if last_seen is None or now - last_seen >= self.GRAIN:
                request.session[sessions.LAST_SEEN] = now
        response = self.get_response(request)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


class TwoStepMiddleware:
    """A session signed in with a password only reaches the second step (the user has an
    authenticator) or enrolment (two-step sign-in is required of them and they have none),
    and besides only signing out and what needs no sign-in at all: patients' links and pages,
    the public site, webhooks, and the API, whose keys are not sessions."""

    OPEN_VIEWS = frozenset(
        {
            "login",
            "logout",
            "two_step_verify",
            "two_step_setup",
            "set_language",
            "password_reset",
            "password_reset_done",
            "password_reset_confirm",
            "password_reset_complete",
            "landing",
            "billing:pricing",
            "billing:signup",
            "billing:signup_done",
            "billing:stripe_webhook",
            "survey_answer",
            "survey_opt_out",
            "survey_short",
            "survey_short_opt_out",
            "sms_status",
            "sms_inbound",
            "sms_provider_callback",
            "survey_wechat",
            "wechat_hook",
            "cms_article_link",
            "cms_media",
            "wagtail_serve",
        }
    )
    OPEN_PREFIXES = ("/api/", "/static/", "/health/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not self._open(request)
        ):
            step = self._step(request, user)
            if step is not None:
                urlconf = getattr(request, "urlconf", None)
                target = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse(step, urlconf=urlconf)}?{target}")
        return self.get_response(request)

    @staticmethod
    def _step(request, user) -> str | None:
        if two_step.authenticator(user) is not None:
            return "two_step_verify"
        if two_step.two_step_required(user, getattr(request, "tenant", None)):
            return "two_step_setup"
        return None

    def _open(self, request) -> bool:
        if request.path_info.startswith(self.OPEN_PREFIXES):
            return True
        try:
            match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
        except Resolver404:
            return True  # a 404 page shows nothing
        return match.view_name in self.OPEN_VIEWS


class ApiBodyLimitMiddleware:
    """The integration API takes up to API_MAX_BODY_BYTES (a bulk call's 10,000 rows need
    more than Django's 2.5 MB, which still holds for every page's form); a larger body is
    answered with the API's JSON 413 before anything reads it."""

    PREFIX = "/api/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.API_MAX_BODY_BYTES:
                return JsonResponse(
                    {
                        "code": "body_too_large",
                        "message": _("The request body is larger than %(max)s MB.")
                        % {"max": settings.API_MAX_BODY_BYTES // (1024 * 1024)},
                    },
                    status=413,
                )
            if length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
                # Read here, within the API's own limit: HttpRequest.body would refuse it.
                request._body = request.read()
        return self.get_response(request)

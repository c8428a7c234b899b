"""Request-level rules: probes before tenant routing; then the tenant's language and its
suspension."""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from saas import health, metrics

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
    ALWAYS_ALLOWED = ("login", "logout", "set_language", "billing:checkout", "billing:portal")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not tenant.is_public and tenant.is_suspended:
            allowed = {reverse(name) for name in self.ALWAYS_ALLOWED}
            if request.method not in self.SAFE_METHODS and request.path not in allowed:
                return render(request, "saas/suspended.html", {"tenant": tenant}, status=403)
        return self.get_response(request)

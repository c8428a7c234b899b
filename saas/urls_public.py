"""URLs on BASE_DOMAIN: the public site and the vendor console."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from saas import health, views

urlpatterns = [
    # Served by saas.middleware.ProbeMiddleware on any host; named for `manage.py health_check
    # readyz`.
    path("readyz", health.readiness, name="readyz"),
    path("", views.landing, name="landing"),
    path("console/billing/", include("billing.urls_console", namespace="billing_console")),
    path("console/", include("tenants.urls", namespace="console")),
    path("", include("billing.urls_public", namespace="billing")),
    path("", include("saas.urls_signin")),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="landing"), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
]

# A database out of reach answers 503 with Retry-After instead of 500 (saas.views).
handler500 = "saas.views.server_error"

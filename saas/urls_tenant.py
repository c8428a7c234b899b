"""URLs on a tenant's host (<slug>.BASE_DOMAIN or the clinic's own domain)."""

from django.urls import include, path
from django.views.i18n import set_language

from crm.api.app import api as crm_api
from crm.views import staff as crm_staff_views
from saas import health, signin_views
from tenants import views as tenant_views

urlpatterns = [
    # Served by saas.middleware.ProbeMiddleware on any host; named for `manage.py health_check
    # readyz`.
    path("readyz", health.readiness, name="readyz"),
    path("", crm_staff_views.home, name="home"),
    path("", include("saas.urls_signin")),
    # Before Django's own: reset mails limited per account and address (saas.signin_throttle).
    path(
        "accounts/password_reset/",
        signin_views.PasswordResetMailView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("cms.urls")),
    path("", include("crm.urls")),
    path("", include("surveys.urls")),
    path("settings/", tenant_views.tenant_settings, name="tenant_settings"),
    path("", include("billing.urls_tenant", namespace="billing")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", crm_api.urls),
]

# A database out of reach answers 503 with Retry-After instead of 500 (saas.views).
handler500 = "saas.views.server_error"

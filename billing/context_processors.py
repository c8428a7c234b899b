"""The subscription and allowance banners on every page of a tenant, for signed-in staff."""

from .entitlements import banners
from .views import MANAGE_BILLING


def billing_banners(request) -> dict:
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or tenant.is_public or user is None or not user.is_authenticated:
        return {}

    return {"billing_banners": banners(tenant, billing_admin=user.has_perm(MANAGE_BILLING))}

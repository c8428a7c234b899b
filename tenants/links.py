"""Absolute URLs on our hosts, as written in emails, SMS and printed by commands. Low in the
layers (settings and a tenant's host only), so that any app's services may write a link."""

from django.conf import settings


def site_url(host: str, path: str = "/") -> str:
    """An absolute URL on one of our hosts."""
    port = f":{settings.TENANT_URL_PORT}" if settings.TENANT_URL_PORT else ""
    return f"{settings.TENANT_URL_SCHEME}://{host}{port}{path}"


def tenant_url(tenant, path: str = "/") -> str:
    """An absolute URL on the clinic's primary host."""
    return site_url(tenant.primary_host, path)

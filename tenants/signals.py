"""Sign-ins, refused sign-ins and sign-outs on the vendor console (the public schema),
written to the console's audit trail; a clinic's own are crm.signals' to record. Connected
in TenantsConfig.ready."""

from axes.helpers import get_client_ip_address
from django.db import connection
from django_tenants.utils import get_public_schema_name

from . import services


def _on_console() -> bool:
    return connection.schema_name == get_public_schema_name()


def _address(request) -> str | None:
    # The address as the login lockout (django-axes) sees it, proxies and all.
    return get_client_ip_address(request) if request is not None else None


def signed_in(sender, request, user, **_kwargs) -> None:
    if _on_console():
        services.console_sign_in_recorded(user, client_address=_address(request))


def sign_in_failed(sender, credentials, request=None, **_kwargs) -> None:
    if _on_console():
        services.console_sign_in_failed_recorded(
            str(credentials.get("username", "")), client_address=_address(request)
        )


def signed_out(sender, request, user, **_kwargs) -> None:
    if user is not None and _on_console():
        services.console_sign_out_recorded(user, client_address=_address(request))

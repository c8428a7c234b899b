"""Sign-ins, refused sign-ins and sign-outs of a clinic's staff, written to the clinic's
audit trail. Django announces them only as signals (django.contrib.auth.signals); these
receivers, connected in CrmConfig.ready, hand each to a service. The vendor console's, in
the public schema where no crm table exists, are tenants.signals' to record."""

from axes.helpers import get_client_ip_address
from django.db import connection

from saas import signals as shell

from .models import AuditEntry
from .services import audit

PUBLIC_SCHEMA = "public"
TWO_STEP_ACTIONS = {
    shell.TWO_STEP_ENROLLED: AuditEntry.Action.TWO_STEP_ENROLLED,
    shell.TWO_STEP_CODES_RENEWED: AuditEntry.Action.TWO_STEP_CODES_RENEWED,
    shell.TWO_STEP_TURNED_OFF: AuditEntry.Action.TWO_STEP_TURNED_OFF,
}


def _in_clinic() -> bool:
    return getattr(connection, "schema_name", PUBLIC_SCHEMA) != PUBLIC_SCHEMA


def _address(request) -> str | None:
    # The address as the login lockout (django-axes) sees it, proxies and all.
    return get_client_ip_address(request) if request is not None else None


def signed_in(sender, request, user, **_kwargs) -> None:
    if _in_clinic():
        audit.sign_in_recorded(user, client_address=_address(request))


def sign_in_failed(sender, credentials, request=None, **_kwargs) -> None:
    if _in_clinic():
        audit.sign_in_failed_recorded(
            str(credentials.get("username", "")), client_address=_address(request)
        )


def signed_out(sender, request, user, **_kwargs) -> None:
    if user is not None and _in_clinic():
        audit.sign_out_recorded(user, client_address=_address(request))


def two_step_changed(sender, user, change, **_kwargs) -> None:
    if _in_clinic():
        audit.audit_record(user, TWO_STEP_ACTIONS[change], obj=user)

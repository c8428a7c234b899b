"""Reads across tenants for the vendor console and /metrics (public schema)."""

from django.db import connection

from .models import ClinicBacklog, ConsoleAuditEntry, Tenant


def tenant_console_list() -> list[Tenant]:
    """Every tenant (not the public one), each with ``user_count`` = active staff in its
    schema, counted in one query across schemas."""
    tenants = list(Tenant.objects.exclude(schema_name="public").prefetch_related("domains"))
    if not tenants:
        return tenants
    quote = connection.ops.quote_name
    # Schema names come from our own Tenant rows and are quoted as identifiers.
    counts_sql = "SELECT %s, count(*) FROM {}.auth_user WHERE is_active"
    union = " UNION ALL ".join(counts_sql.format(quote(t.schema_name)) for t in tenants)
    with connection.cursor() as cursor:
        cursor.execute(union, [t.schema_name for t in tenants])
        counts = dict(cursor.fetchall())
    for tenant in tenants:
        tenant.user_count = counts.get(tenant.schema_name, 0)
    return tenants


def console_audit_recent(limit: int = 20):
    return ConsoleAuditEntry.objects.select_related("actor", "tenant")[:limit]


def clinic_backlogs():
    """The backlog each clinic's last tick recorded, with its schema name, in one query;
    suspended clinics are left out (nothing ticks them, their figures would only be stale)."""
    return (
        ClinicBacklog.objects.exclude(tenant__status=Tenant.Status.SUSPENDED)
        .exclude(tenant__schema_name="public")
        .select_related("tenant")
        .only(
            "tenant__schema_name",
            "outbox_queued",
            "webhooks_retrying",
            "webhooks_failed",
            "followups_overdue",
        )
        .order_by("tenant__schema_name")
    )

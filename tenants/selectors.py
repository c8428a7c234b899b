"""Reads across tenants for the vendor console and /metrics (public schema)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, TextField, Value
from django.db.models.functions import Cast, TruncHour
from django.utils.translation import gettext_lazy as _

from billing.models import BillingAuditEntry
from saas import clock

from .models import ClinicBacklog, ConsoleAuditEntry, Tenant

# The vendor's two audit trails, merged on the console's audit page; an action is named
# "<source>:<action>" because both have, for instance, a "reactivated".
AUDIT_SOURCES = {"console": ConsoleAuditEntry, "billing": BillingAuditEntry}


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


def signups_busiest_hour(*, days: int = 7) -> int:
    """The most clinics created within one clock hour (UTC) over the last ``days`` days."""
    now = clock.now()
    busiest = (
        Tenant.objects.exclude(schema_name="public")
        .filter(created_at__gt=now - timedelta(days=days), created_at__lte=now)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour")
        .annotate(signups=Count("id"))
        .order_by("-signups")
        .values_list("signups", flat=True)
        .first()
    )
    return busiest or 0


def pool_size_wanted() -> int:
    """How many ready-made schemas the pool keeps: enough for the busiest hour of sign-ups
    of the last week (a claim queues a refill at once, so the pool only has to cover the
    refills' lag within a burst), at least TENANT_POOL_SIZE, at most TENANT_POOL_MAX."""
    wanted = max(settings.TENANT_POOL_SIZE, signups_busiest_hour())
    return min(wanted, settings.TENANT_POOL_MAX)


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


def console_audit_actions() -> list[tuple[str, list[tuple[str, str]]]]:
    """The actions of both trails, grouped by trail, for a select's option groups."""
    names = {"console": _("Console"), "billing": _("Billing")}
    return [
        (names[source], [(f"{source}:{value}", label) for value, label in model.Action.choices])
        for source, model in AUDIT_SOURCES.items()
    ]


@dataclass(frozen=True)
class ConsoleAuditRow:
    source: str
    created_at: datetime
    action_label: str
    actor_email: str
    tenant_name: str
    detail: dict
    client_address: str


def _action_label(source: str, action: str) -> str:
    choices = AUDIT_SOURCES[source].Action
    return str(choices(action).label) if action in choices.values else action


def console_audit_page(*, tenant_id: int | None, action: str, page: str | None) -> Page:
    """One page (50 rows, newest first) of both vendor trails merged, filtered by clinic and
    by "<source>:<action>"; the rows carry the actor's email and the clinic's name."""
    source_wanted, _sep, action_wanted = action.partition(":")
    parts = []
    for source, model in AUDIT_SOURCES.items():
        if action and source != source_wanted:
            continue
        rows = model.objects.all()
        if tenant_id is not None:
            rows = rows.filter(tenant_id=tenant_id)
        if action_wanted:
            rows = rows.filter(action=action_wanted)
        # Only the console's trail has sign-ins, hence addresses.
        address = (
            Cast("client_address", TextField())
            if source == "console"
            else Value("", output_field=TextField())
        )
        parts.append(
            rows.annotate(source=Value(source, output_field=TextField()), address=address).values(
                "source", "id", "created_at", "action", "actor_id", "tenant_id", "detail", "address"
            )
        )
    merged = parts[0].union(*parts[1:], all=True).order_by("-created_at", "-id")
    found = Paginator(merged, 50).get_page(page)
    rows = list(found.object_list)
    actors = dict(
        get_user_model()
        .objects.filter(pk__in={row["actor_id"] for row in rows})
        .values_list("pk", "email")
    )
    tenants = dict(
        Tenant.objects.filter(pk__in={row["tenant_id"] for row in rows}).values_list("pk", "name")
    )
    found.object_list = [
        ConsoleAuditRow(
            source=row["source"],
            created_at=row["created_at"],
            action_label=_action_label(row["source"], row["action"]),
            actor_email=actors.get(row["actor_id"], ""),
            tenant_name=tenants.get(row["tenant_id"], ""),
            detail=row["detail"],
            client_address=row["address"] or "",
        )
        for row in rows
    ]
    return found

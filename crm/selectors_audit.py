"""Reads of the clinic's audit trail (DESIGN.md §9): the filtered entries its administrators
see on /audit/ and download, and how each entry's detail reads."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from .calendar import local_midnight, tenant_zone
from .models import AuditEntry, Contact, RegisterSignOff
from .roles import Role

User = get_user_model()


@dataclass(frozen=True)
class AuditFilters:
    actor_id: int | None = None
    action: str = ""
    record_no: str = ""
    since: date | None = None
    until: date | None = None


def audit_entries(filters: AuditFilters) -> QuerySet:
    """Newest first. Dates are the clinic's calendar days, both ends included. A contact is
    found by its exact record number: the trail is read to answer "who opened this file"."""
    entries = AuditEntry.objects.select_related("actor", "contact")
    if filters.actor_id is not None:
        entries = entries.filter(actor_id=filters.actor_id)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.record_no:
        entries = entries.filter(
            contact_id__in=Contact.objects.filter(record_no=filters.record_no).values("pk")
        )
    zone = tenant_zone(connection.tenant)
    if filters.since:
        entries = entries.filter(created_at__gte=local_midnight(filters.since, zone))
    if filters.until:
        entries = entries.filter(
            created_at__lt=local_midnight(filters.until + timedelta(days=1), zone)
        )
    return entries


def audit_people() -> QuerySet:
    """Everyone who may appear as "who": the clinic's staff accounts, active or not."""
    return User.objects.order_by("first_name", "last_name", "email")


def _role_label(code: str) -> str:
    return Role(code).label if code in Role.values else code or "—"


def audit_detail_text(entry: AuditEntry) -> str:
    """The entry's detail in words: field names, roles, scopes; ids as they are."""
    detail = entry.detail or {}
    parts = []
    if "fields" in detail:
        parts.append(_("fields: %(fields)s") % {"fields": ", ".join(detail["fields"]) or "—"})
    if "from" in detail or "to" in detail:
        parts.append(f"{_role_label(detail.get('from', ''))} → {_role_label(detail.get('to', ''))}")
    if "role" in detail:
        parts.append(_("role: %(role)s") % {"role": _role_label(detail["role"])})
    if "scopes" in detail:
        parts.append(_("scopes: %(scopes)s") % {"scopes": ", ".join(detail["scopes"])})
    if detail.get("account") == "unknown":
        parts.append(_("unknown account %(digest)s") % {"digest": detail.get("login_digest", "")})
    if detail.get("list"):
        parts.append(_("list: %(list)s") % {"list": detail["list"]})
    if detail.get("status"):
        parts.append(_("status: %(status)s") % {"status": detail["status"]})
    if detail.get("month"):
        parts.append(_("month: %(month)s") % {"month": detail["month"]})
    if detail.get("signed_as"):
        signed_as = dict(RegisterSignOff.Role.choices).get(detail["signed_as"], detail["signed_as"])
        parts.append(_("signed as: %(role)s") % {"role": signed_as})
    if "page" in detail:
        parts.append(_("page %(page)s") % {"page": detail["page"]})
    if "rows" in detail:
        parts.append(_("%(rows)s rows") % {"rows": detail["rows"]})
    return "; ".join(str(part) for part in parts)

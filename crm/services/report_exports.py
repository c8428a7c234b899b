"""Downloads of the monthly report (DESIGN.md §9: every export is audit-logged)."""

from datetime import date

from ..models import AuditEntry


def report_exported(user, *, fmt: str, first: date) -> AuditEntry:
    """Records who downloaded which month's report in which format ("xlsx:2026-11")."""
    return AuditEntry.objects.create(
        actor=user, action=AuditEntry.Action.REPORT_EXPORTED, object_id=f"{fmt}:{first:%Y-%m}"
    )

"""Downloads of the monthly report (DESIGN.md §9: every export is audit-logged)."""

from datetime import date

from ...models import AuditEntry
from ...services.audit import audit_record


def report_exported(user, *, fmt: str, first: date) -> AuditEntry:
    """Records who downloaded which month's report in which format ("xlsx:2026-11")."""
    return audit_record(user, AuditEntry.Action.REPORT_EXPORTED, obj=f"{fmt}:{first:%Y-%m}")

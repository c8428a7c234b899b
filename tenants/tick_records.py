"""What a clinic's own tick writes on its rows in the public schema (the day of its last
retention pass, its backlog for /metrics). Low in the layers (tenants' models only): the crm
services that run the tick call it without reaching up into provisioning."""

from collections.abc import Mapping
from datetime import date, datetime

from .models import ClinicBacklog, Tenant


def tenant_retention_ran(tenant: Tenant, day: date) -> None:
    """Remember the clinic's local day of its last complete retention pass (run once a day
    by its tick, crm.services.retention)."""
    Tenant.objects.filter(pk=tenant.pk).update(retention_ran_on=day)
    tenant.retention_ran_on = day


def clinic_backlog_record(
    tenant: Tenant, counts: Mapping[str, int], *, now: datetime
) -> ClinicBacklog:
    """Keep what a clinic's tick counted (crm.selectors.clinic_backlog) in its public row,
    replacing the previous tick's figures; /metrics reads them from there."""
    backlog, _created = ClinicBacklog.objects.update_or_create(
        tenant=tenant, defaults={**counts, "measured_at": now}
    )
    return backlog

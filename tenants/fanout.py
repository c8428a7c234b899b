"""Doing something once per clinic: the beat's fan-out and the commands that walk every
clinic. Tenant apps (crm, surveys, cms) run inside one clinic's schema and never switch
schemas themselves; when they must reach every clinic, they come through here."""

from collections.abc import Iterable, Iterator

from django_tenants.utils import get_public_schema_name, tenant_context

from .models import Tenant


def clinic_schemas_working() -> Iterator[str]:
    """The schema of every clinic that is not suspended, streamed (thousands of clinics)."""
    schemas = (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .exclude(status=Tenant.Status.SUSPENDED)
        .values_list("schema_name", flat=True)
    )
    return schemas.iterator()


def clinics(*, schema: str = "") -> list[Tenant]:
    """Every clinic (or the one named), in schema order."""
    found = Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("schema_name")
    return list(found.filter(schema_name=schema) if schema else found)


def in_each_clinic(tenants: Iterable[Tenant]) -> Iterator[Tenant]:
    """Yield each clinic with the connection inside its schema (back in public afterwards)."""
    for tenant in tenants:
        with tenant_context(tenant):
            yield tenant

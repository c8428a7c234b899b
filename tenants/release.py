"""A release over every clinic: what ``migrate`` does after the public schema.

It costs what changed, not how many clinics exist. Each clinic row records the migration
state its schema was last brought to and what it was last given after migrating (roles and
their Wagtail permissions, constraints under the template's names); a clinic already at the
code's state is skipped by one query, the template schema is refreshed only when its own
state differs, and its Wagtail tree only when the starter articles changed.

The clinics that do need work are done by a pool of processes, one database connection each.
A clinic's fingerprint is written only after its migrations succeeded, so a release that
fails at one clinic leaves every other clinic either done or untouched, reports the failures
with the schema and the error, and, run again, continues with what is left.

Migrations must be backward-compatible for one release (deploy/README.md, "Upgrading"): while
a release runs, clinics still at the old state keep serving the new code."""

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import connections
from django.db.models import Q
from django_tenants.utils import get_public_schema_name, tenant_context

from cms.services import editor_permissions_sync, patient_site_ensure
from crm.services.staff import roles_sync

from .models import Tenant
from .schemas import (
    constraint_names_align,
    migration_fingerprint,
    sync_fingerprint,
    template_is_current,
    template_refresh,
)


@dataclass
class ReleaseReport:
    clinics: int = 0  # clinics that exist
    migrated: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # schema → error
    template_refreshed: bool = False
    seconds: float = 0.0


def clinics_behind() -> list[str]:
    """The clinics whose schema or grants are not at the code's state."""
    return list(
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .filter(
            ~Q(schema_fingerprint=migration_fingerprint()) | ~Q(sync_fingerprint=sync_fingerprint())
        )
        .order_by("pk")
        .values_list("schema_name", flat=True)
    )


def clinic_release(schema_name: str) -> tuple[str, bool, str]:
    """Bring one clinic to the code's state: (schema, migrated?, error or "")."""
    try:
        tenant = Tenant.objects.get(schema_name=schema_name)
        migrated = tenant.schema_fingerprint != migration_fingerprint()
        if migrated:
            call_command(
                "migrate_schemas",
                tenant=True,
                schema_name=schema_name,
                interactive=False,
                verbosity=0,
            )
            Tenant.objects.filter(pk=tenant.pk).update(schema_fingerprint=migration_fingerprint())
        # Now at the template's state: its constraint names are the migrations' names.
        constraint_names_align(schema_name)
        with tenant_context(tenant):
            roles_sync()
            editor_permissions_sync()
            patient_site_ensure(kind=tenant.kind, locale=tenant.locale)
        Tenant.objects.filter(pk=tenant.pk).update(sync_fingerprint=sync_fingerprint())
        return schema_name, migrated, ""
    except Exception as exc:  # reported with the schema; the other clinics go on
        return schema_name, False, f"{type(exc).__name__}: {exc}".strip()[:2000]


def _clinic_release_in_child(schema_name: str) -> tuple[str, bool, str]:
    try:
        return clinic_release(schema_name)
    finally:
        connections.close_all()  # a pool process's next clinic starts on a fresh connection


def release_run(
    *, processes: int = 2, progress: Callable[[str], None] | None = None
) -> ReleaseReport:
    started = time.perf_counter()
    report = ReleaseReport(
        clinics=Tenant.objects.exclude(schema_name=get_public_schema_name()).count()
    )
    if not template_is_current():
        template_refresh()
        report.template_refreshed = True
    behind = clinics_behind()
    if behind:
        if processes > 1 and len(behind) > 1:
            # Every child opens its own connection: none may inherit this process's.
            connections.close_all()
            context = multiprocessing.get_context("fork")
            with context.Pool(min(processes, len(behind)), maxtasksperchild=50) as pool:
                results = pool.imap_unordered(_clinic_release_in_child, behind)
                _collect(results, len(behind), report, progress)
        else:
            _collect(map(clinic_release, behind), len(behind), report, progress)
    report.seconds = time.perf_counter() - started
    return report


def _collect(results, total: int, report: ReleaseReport, progress) -> None:
    step = max(total // 20, 1)
    for done, (schema_name, migrated, error) in enumerate(results, start=1):
        if error:
            report.failed[schema_name] = error
            if progress:
                progress(f"{schema_name}: FAILED: {error}")
        else:
            report.synced.append(schema_name)
            if migrated:
                report.migrated.append(schema_name)
        if progress and (done % step == 0 or done == total):
            progress(f"{done}/{total} clinics done, {len(report.failed)} failed")

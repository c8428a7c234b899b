"""Releases that cost what changed (tenants/release.py): clinics already at the code's state
are skipped, a failure at one clinic is reported with its schema and leaves the others done,
and running the release again continues with what is left."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tenants.models import Tenant
from tenants.release import clinics_behind, release_run
from tenants.schemas import migration_fingerprint, sync_fingerprint

FIRST_CRM_MIGRATION = "0001_initial"


def _stale(*tenants: Tenant) -> None:
    Tenant.objects.filter(pk__in=[t.pk for t in tenants]).update(
        schema_fingerprint="", sync_fingerprint=""
    )


def _forget_first_crm_migration(tenant: Tenant) -> None:
    """A clinic whose recorded migrations contradict each other (the first crm migration
    missing under all the later ones): migrating it fails, as a real migration can fail at
    one clinic among many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{tenant.schema_name}".django_migrations WHERE app = %s AND name = %s',
            ["crm", FIRST_CRM_MIGRATION],
        )


def test_new_clinics_are_at_the_codes_state_and_a_release_skips_them(tenant_a, tenant_b):
    assert tenant_a.schema_fingerprint == migration_fingerprint()
    assert tenant_b.sync_fingerprint == sync_fingerprint()
    assert clinics_behind() == []

    report = release_run(processes=1)

    assert (report.migrated, report.synced, report.failed) == ([], [], {})
    assert report.clinics >= 2


def test_a_failure_at_one_clinic_is_reported_and_the_release_continues_where_it_stopped(
    tenant_a, tenant_b
):
    _stale(tenant_a, tenant_b)
    _forget_first_crm_migration(tenant_b)

    first = release_run(processes=1)

    assert first.migrated == [tenant_a.schema_name]
    assert list(first.failed) == [tenant_b.schema_name]
    assert "InconsistentMigrationHistory" in first.failed[tenant_b.schema_name]
    tenant_a.refresh_from_db()
    tenant_b.refresh_from_db()
    assert tenant_a.schema_fingerprint == migration_fingerprint()
    assert tenant_b.schema_fingerprint == ""  # still to do
    assert clinics_behind() == [tenant_b.schema_name]

    # The cause is fixed (the migration is recorded again); the release goes on with
    # the one clinic left.
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{tenant_b.schema_name}".django_migrations (app, name, applied)'
            " VALUES ('crm', %s, now())",
            [FIRST_CRM_MIGRATION],
        )
    second = release_run(processes=1)

    assert (second.synced, second.failed) == ([tenant_b.schema_name], {})
    assert clinics_behind() == []


def test_the_migrate_command_names_the_clinic_that_failed(tenant_a, tenant_b):
    _stale(tenant_b)
    _forget_first_crm_migration(tenant_b)

    with pytest.raises(CommandError) as failure:
        call_command("migrate", interactive=False, verbosity=0, processes=1)

    assert f"{tenant_b.schema_name}: " in str(failure.value)
    assert "run migrate again to continue" in str(failure.value)

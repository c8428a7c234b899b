"""The scale benchmark's own pieces, fast (the benchmark itself never runs in CI): its
throwaway release is a valid migration on the current crm state and leaves no trace once
reverted (and reverting touches nothing else), and a backend's memory is read from the local
server's /proc."""

import ast
import shutil

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tenants.models import Tenant
from tenants.release import clinics_behind
from tenants.schemas import (
    migration_fingerprint,
    migration_fingerprint_of,
    sync_fingerprint,
    sync_fingerprint_at,
)
from tests.benchmarks import scale


@pytest.fixture
def release_folder():
    folder = scale._release_files()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_throwaway_release_depends_on_the_latest_crm_migration(release_folder):
    source = (
        release_folder / scale.BENCH_APP / "migrations" / f"{scale.BENCH_MIGRATION}.py"
    ).read_text()
    ast.parse(source)
    leaf = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("crm")[0]
    assert f'("crm", "{leaf[1]}")' in source
    assert f"ADD COLUMN {scale.BENCH_COLUMN} varchar(40) NULL" in source
    settings_source = (release_folder / "scale_release_settings.py").read_text()
    assert f'TENANT_APPS = [*TENANT_APPS, "{scale.BENCH_APP}"]' in settings_source


def _bench_release_applied(tenant) -> None:
    """What the throwaway release leaves in a clinic: its column, its record, its state."""
    schema = connection.ops.quote_name(tenant.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {schema}.{scale.BENCH_TABLE} ADD COLUMN {scale.BENCH_COLUMN} text"
        )
        cursor.execute(
            f"INSERT INTO {schema}.django_migrations (app, name, applied) VALUES (%s, %s, now())",
            [scale.BENCH_APP, scale.BENCH_MIGRATION],
        )
    bench = scale._bench_fingerprint()
    Tenant.objects.filter(pk=tenant.pk).update(
        schema_fingerprint=bench, sync_fingerprint=sync_fingerprint_at(bench)
    )


def test_reverting_the_release_puts_a_clinic_back_to_the_codes_state(tenant_a):
    _bench_release_applied(tenant_a)

    assert scale._release_revert() == 1

    tenant_a.refresh_from_db()
    assert (tenant_a.schema_fingerprint, tenant_a.sync_fingerprint) == (
        migration_fingerprint(),
        sync_fingerprint(),
    )
    assert tenant_a.schema_name not in clinics_behind()
    schema = connection.ops.quote_name(tenant_a.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = %s",
            [scale.BENCH_COLUMN],
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            f"SELECT count(*) FROM {schema}.django_migrations WHERE app = %s", [scale.BENCH_APP]
        )
        assert cursor.fetchone()[0] == 0


def test_reverting_the_release_leaves_a_clinic_behind_for_another_reason_behind(tenant_a, tenant_b):
    """A clinic of a database made by older code is not the release's: it stays behind, for
    migrate, instead of being marked current without its migrations."""
    _bench_release_applied(tenant_a)
    older = migration_fingerprint_of({"crm.0001_initial"})
    Tenant.objects.filter(pk=tenant_b.pk).update(
        schema_fingerprint=older, sync_fingerprint=sync_fingerprint_at(older)
    )

    scale._release_revert()

    tenant_b.refresh_from_db()
    assert tenant_b.schema_fingerprint == older
    assert clinics_behind() == [tenant_b.schema_name]


def test_a_clinic_marked_current_without_its_migrations_is_marked_behind(tenant_a, tenant_b):
    """How the old revert left a benchmark database: rows at the code's state over a schema
    that lacks a migration. Found, and left for migrate."""
    latest = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("crm")[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {connection.ops.quote_name(tenant_b.schema_name)}.django_migrations"
            " WHERE app = %s AND name = %s",
            list(latest),
        )

    assert scale._clinics_missing_migrations() == [tenant_b.schema_name]
    scale._release_revert()

    tenant_a.refresh_from_db()
    tenant_b.refresh_from_db()
    assert tenant_a.schema_fingerprint == migration_fingerprint()
    assert tenant_b.schema_fingerprint == ""
    assert clinics_behind() == [tenant_b.schema_name]


@pytest.mark.django_db
def test_the_backends_memory_is_read_from_proc():
    memory = scale.backend_memory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert memory["pid"] == cursor.fetchone()[0]
    assert memory["VmRSS"] > 0
    assert memory["RssAnon"] >= 0

"""The scale benchmark's own pieces, fast (the benchmark itself never runs in CI): its
throwaway release is a valid migration on the current crm state and leaves no trace once
reverted, and a backend's memory is read from the local server's /proc."""

import ast
import shutil

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tenants.models import Tenant
from tenants.schemas import migration_fingerprint, sync_fingerprint
from tests.benchmarks import scale


@pytest.fixture
def release_folder():
    folder = scale._release_files()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_throwaway_release_depends_on_the_latest_crm_migration(release_folder):
    source = (
        release_folder / scale.BENCH_APP / "migrations" / "0001_column_and_index.py"
    ).read_text()
    ast.parse(source)
    leaf = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("crm")[0]
    assert f'("crm", "{leaf[1]}")' in source
    assert f"ADD COLUMN {scale.BENCH_COLUMN} varchar(40) NULL" in source
    settings_source = (release_folder / "scale_release_settings.py").read_text()
    assert f'TENANT_APPS = [*TENANT_APPS, "{scale.BENCH_APP}"]' in settings_source


def test_reverting_the_release_puts_a_clinic_back_to_the_codes_state(tenant_a):
    schema = connection.ops.quote_name(tenant_a.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE {schema}.{scale.BENCH_TABLE} ADD COLUMN {scale.BENCH_COLUMN} text"
        )
        cursor.execute(
            f"INSERT INTO {schema}.django_migrations (app, name, applied)"
            " VALUES (%s, '0001_column_and_index', now())",
            [scale.BENCH_APP],
        )
    Tenant.objects.filter(pk=tenant_a.pk).update(schema_fingerprint="new", sync_fingerprint="new")

    assert scale._release_revert() == 1

    tenant_a.refresh_from_db()
    assert (tenant_a.schema_fingerprint, tenant_a.sync_fingerprint) == (
        migration_fingerprint(),
        sync_fingerprint(),
    )
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


@pytest.mark.django_db
def test_the_backends_memory_is_read_from_proc():
    memory = scale.backend_memory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert memory["pid"] == cursor.fetchone()[0]
    assert memory["VmRSS"] > 0
    assert memory["RssAnon"] >= 0

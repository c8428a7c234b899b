"""A release whose migrations are schema changes runs one plan's SQL in every clinic
(tenants/release.py, replay_plan) instead of Django's migrate per clinic, and Django's check
for django_migrations asks the catalog for one table (tenants/recorder.py): both must give
exactly what Django's own path gives."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tenants import release
from tenants.models import Tenant
from tenants.recorder import table_exists
from tenants.release import release_run, replay_plan
from tenants.schemas import migration_fingerprint, sync_fingerprint, sync_fingerprint_at

# A leaf migration of schema changes only (two AddField, one AddIndex): undone in a clinic,
# the release has exactly it to apply.
BEFORE = ("surveys", "0003_invitation_channel_wechat")
REPLAYED = ("surveys", "0004_invitation_reminder")


def _undo_replayed(*tenants: Tenant) -> None:
    for tenant in tenants:
        call_command(
            "migrate_schemas",
            *BEFORE,
            schema_name=tenant.schema_name,
            interactive=False,
            verbosity=0,
        )
    Tenant.objects.filter(pk__in=[t.pk for t in tenants]).update(
        schema_fingerprint="", sync_fingerprint=""
    )


def _state(tenant: Tenant) -> tuple[int, int, int]:
    """(columns of REPLAYED, its index, its records) in the clinic."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT"
            " (SELECT count(*) FROM information_schema.columns WHERE table_schema = %(s)s"
            "  AND table_name = 'surveys_surveyinvitation'"
            "  AND column_name IN ('reminded_at', 'reminder_hash')),"
            " (SELECT count(*) FROM pg_indexes WHERE schemaname = %(s)s"
            "  AND indexname = 'invitation_unanswered_idx'),"
            f' (SELECT count(*) FROM "{tenant.schema_name}".django_migrations'
            "  WHERE app = %(app)s AND name = %(name)s)",
            {"s": tenant.schema_name, "app": REPLAYED[0], "name": REPLAYED[1]},
        )
        return cursor.fetchone()


@pytest.fixture
def migrate_calls(monkeypatch) -> list[tuple]:
    """The clinics that went through Django's migrate (migrate_schemas) in the release."""
    calls = []
    original = release.call_command

    def spy(*args, **options):
        calls.append(options.get("schema_name"))
        return original(*args, **options)

    monkeypatch.setattr(release, "call_command", spy)
    return calls


def test_the_plan_of_a_clinic_is_its_sql_and_the_records_django_would_add(tenant_a):
    _undo_replayed(tenant_a)

    plan = replay_plan(tenant_a.schema_name)

    assert plan is not None
    assert plan.records == (REPLAYED,)
    assert REPLAYED not in plan.applied and BEFORE in plan.applied
    assert any("reminded_at" in sql for sql in plan.statements)
    assert any("invitation_unanswered_idx" in sql for sql in plan.statements)
    assert not any(sql.lstrip().startswith("--") for sql in plan.statements)
    assert connection.schema_name == "public"


def test_a_plan_with_an_operation_that_reads_the_clinic_is_not_replayed(tenant_a):
    # Undoing the last crm migration leaves AlterFields to apply: their SQL depends on the
    # clinic's own constraint names, so that clinic goes through Django's migrate.
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{tenant_a.schema_name}".django_migrations'
            " WHERE app = 'crm' AND name = '0039_lapsed_rules_teams_nurse'"
        )
    assert replay_plan(tenant_a.schema_name) is None


def test_a_release_of_schema_changes_replays_one_plan_in_every_clinic(
    tenant_a, tenant_b, migrate_calls
):
    _undo_replayed(tenant_a, tenant_b)
    assert _state(tenant_a) == (0, 0, 0)

    report = release_run(processes=1)

    assert sorted(report.migrated) == sorted([tenant_a.schema_name, tenant_b.schema_name])
    assert report.failed == {}
    assert migrate_calls == []  # no clinic needed Django's migrate
    for tenant in (tenant_a, tenant_b):
        assert _state(tenant) == (2, 1, 1)  # columns, index, recorded once
        tenant.refresh_from_db()
        assert tenant.schema_fingerprint == migration_fingerprint()
    # Django sees the clinic at the code's state: nothing left to apply.
    call_command(
        "migrate_schemas",
        schema_name=tenant_a.schema_name,
        interactive=False,
        verbosity=0,
        check_unapplied=True,
    )


def test_a_clinic_whose_history_is_not_the_plans_goes_through_migrate(
    tenant_a, tenant_b, migrate_calls
):
    first, second = sorted([tenant_a, tenant_b], key=lambda t: t.pk)
    _undo_replayed(first)  # the plan is made from the first clinic at the recorded state
    Tenant.objects.filter(pk=second.pk).update(schema_fingerprint="", sync_fingerprint="")

    report = release_run(processes=1)

    assert report.failed == {}
    assert migrate_calls == [second.schema_name]  # already had it: nothing applied twice
    assert _state(first) == (2, 1, 1)
    assert _state(second) == (2, 1, 1)


def test_a_replayed_clinic_whose_grants_were_current_is_not_synced_again(
    tenant_a, tenant_b, monkeypatch
):
    _undo_replayed(tenant_a, tenant_b)
    # tenant_a was given this code's grants at its old state; tenant_b never was.
    old_state = "an older migration state"
    Tenant.objects.filter(pk=tenant_a.pk).update(
        schema_fingerprint=old_state, sync_fingerprint=sync_fingerprint_at(old_state)
    )
    Tenant.objects.filter(pk=tenant_b.pk).update(schema_fingerprint=old_state)
    synced = []
    monkeypatch.setattr(release, "roles_sync", lambda: synced.append(connection.schema_name))

    report = release_run(processes=1)

    assert report.failed == {}
    assert sorted(report.migrated) == sorted([tenant_a.schema_name, tenant_b.schema_name])
    assert synced == [tenant_b.schema_name]
    for tenant in (tenant_a, tenant_b):
        tenant.refresh_from_db()
        assert (tenant.schema_fingerprint, tenant.sync_fingerprint) == (
            migration_fingerprint(),
            sync_fingerprint(),
        )
        assert _state(tenant) == (2, 1, 1)


@pytest.mark.parametrize("with_table", [True, False])
def test_the_table_check_answers_as_djangos_introspection(tenant_a, with_table):
    schema = tenant_a.schema_name if with_table else "release_probe_empty"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        if not with_table:  # a sequence under the name is no table to Django either
            cursor.execute(f'CREATE SEQUENCE "{schema}".django_migrations')
    try:
        connection.set_schema(schema, include_public=False)
        djangos = "django_migrations" in connection.introspection.table_names()
        ours = table_exists(connection, "django_migrations")
        recorder = MigrationRecorder(connection)
        assert (djangos, ours, recorder.has_table()) == (with_table, with_table, with_table)
    finally:
        connection.set_schema_to_public()
    assert table_exists(connection, "django_migrations")  # public has it

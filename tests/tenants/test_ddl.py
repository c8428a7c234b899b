"""Provisioning by replaying the template's DDL (tenants/ddl.py): a new clinic's schema is the
template's in every table, column, constraint and index (under the same names), trigger,
function, sequence position and row; a migration removing a named constraint works on it;
clinics stay apart; bad names and a failing replay leave nothing behind. And the release
renames an old clone's constraints to the template's names."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, migrations, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_context, schema_exists

from crm.models import Department
from tenants import ddl, schemas
from tenants.models import TemplateSchema, Tenant
from tenants.release import release_run
from tenants.services import tenant_provision

pytestmark = pytest.mark.now("2026-11-24 09:00")

# PostgreSQL's default name for the unique constraint crm 0037 names kpi_target_once: the
# name django-tenants' clone_schema() gave it.
KPI_TARGET_DEFAULT_NAME = "crm_kpitarget_metric_department_id_encounter_kind_key"


def _rows(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def schema_picture(schema_name: str) -> dict:
    """Everything a schema is made of, as the catalog and its deparsers tell it, with the
    schema's own objects unqualified (its name alone on the search path) so that two
    schemas compare equal when they are copies."""
    ns = {"ns": schema_name}
    with transaction.atomic(), connection.cursor() as cursor:
        previous = _rows(cursor, "SELECT current_setting('search_path')")[0][0]
        cursor.execute("SELECT set_config('search_path', %s, true)", [f'"{schema_name}"'])
        tables = [row[0] for row in _rows(cursor, TABLES, ns)]
        picture = {
            "columns": _rows(cursor, COLUMNS, ns),
            "constraints": _rows(cursor, CONSTRAINTS, ns),
            "indexes": _rows(cursor, INDEXES, ns),
            "triggers": _rows(cursor, TRIGGERS, ns),
            "functions": _rows(cursor, FUNCTIONS, ns),
            "sequences": [
                (name, definition, *_rows(cursor, f'SELECT last_value, is_called FROM "{name}"')[0])
                for name, definition in _rows(cursor, SEQUENCES, ns)
            ],
            "rows": {
                table: _rows(
                    cursor,
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text),"
                    f" '')) FROM \"{table}\" t",
                )[0]
                for table in tables
            },
        }
        cursor.execute("SELECT set_config('search_path', %s, true)", [previous])
    for part in ("constraints", "indexes"):
        picture[part] = [tuple(_uncast(value) for value in row) for row in picture[part]]
    return picture


def _uncast(value):
    """A definition without its type casts. PostgreSQL deparses ``status IN ('open', ...)``
    of a varchar column as ``ARRAY['open'::character varying, ...]::text[]`` and parses that
    back as ``ARRAY['open'::character varying::text, ...]``: the same condition, cast per
    element instead of once. Any real difference (a name, a column, a value) remains."""
    return re.sub(r"::[a-z ]+(\[\])?", "", value) if isinstance(value, str) else value


TABLES = """SELECT relname FROM pg_class
    WHERE relnamespace = %(ns)s::regnamespace AND relkind = 'r' ORDER BY relname"""
COLUMNS = """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
        a.attidentity, a.attgenerated, a.attcollation::regcollation::text,
        pg_get_expr(d.adbin, d.adrelid),
        row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'r' AND NOT a.attisdropped
    ORDER BY c.relname, a.attname"""
CONSTRAINTS = """SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid, true),
        k.condeferrable, k.condeferred, k.convalidated
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    WHERE c.relnamespace = %(ns)s::regnamespace ORDER BY c.relname, k.conname"""
INDEXES = """SELECT x.relname, pg_get_indexdef(x.oid, 0, true) FROM pg_class x
    WHERE x.relnamespace = %(ns)s::regnamespace AND x.relkind = 'i' ORDER BY x.relname"""
TRIGGERS = """SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid, true),
        CASE WHEN p.pronamespace = c.relnamespace THEN 'its own schema'
             ELSE p.pronamespace::regnamespace::text END
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
    WHERE c.relnamespace = %(ns)s::regnamespace AND NOT t.tgisinternal
    ORDER BY c.relname, t.tgname"""
FUNCTIONS = """SELECT p.proname, pg_get_function_arguments(p.oid), p.prosrc FROM pg_proc p
    WHERE p.pronamespace = %(ns)s::regnamespace ORDER BY p.proname"""
SEQUENCES = """SELECT s.relname, concat_ws(' ', q.seqtypid::regtype, q.seqstart,
        q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle)
    FROM pg_class s JOIN pg_sequence q ON q.seqrelid = s.oid
    WHERE s.relnamespace = %(ns)s::regnamespace ORDER BY s.relname"""


def _remove_kpi_target_once(schema_name: str) -> None:
    """What a migration removing the UniqueConstraint kpi_target_once does to a schema."""
    state = MigrationLoader(connection).project_state()
    operation = migrations.RemoveConstraint(model_name="kpitarget", name="kpi_target_once")
    new_state = state.clone()
    operation.state_forwards("crm", new_state)
    with schema_context(schema_name), connection.schema_editor() as editor:
        operation.database_forwards("crm", editor, state, new_state)


def _constraint_names(schema_name: str, table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass",
            [f'"{schema_name}"."{table}"'],
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_new_schema_is_the_template_in_every_object_name_and_row(db):
    assert schemas.schema_create_from_template("delta")

    new, template = schema_picture("delta"), schema_picture(schemas.template_name())

    assert new == template
    # Not vacuous: the template has all of this, and the rows of the Wagtail tree.
    assert {len(new[part]) > 0 for part in new} == {True}
    assert new["rows"]["wagtailcore_page"][0] > 1
    assert ("crm_kpitarget", "kpi_target_once") in {row[:2] for row in new["constraints"]}
    # The append-only trigger runs the function copied into the new schema, not the
    # template's; the KPI triggers the one function in public every clinic shares.
    assert {(row[1], row[3]) for row in new["triggers"]} >= {
        ("crm_auditentry_append_only", "its own schema"),
        ("crm_kpi_tasks_insert", "public"),
    }


def test_a_provisioned_clinic_has_the_templates_structure_and_names(db, in_tenant):
    result = tenant_provision(
        name="Delta", slug="delta", kind="dental", admin_email="a@delta.test", use_pool=False
    )

    assert result.method == "clone"
    new, template = schema_picture("delta"), schema_picture(schemas.template_name())
    for part in ("columns", "constraints", "indexes", "triggers", "functions"):
        assert new[part] == template[part], part
    # Rows the clinic adds take the ids after the template's.
    with in_tenant(result.tenant):
        department = Department.objects.order_by("-pk").first()
    template_ids = {name: last for name, _definition, last, _called in template["sequences"]}
    assert department.pk > template_ids["crm_department_id_seq"]


def test_a_migration_removing_a_named_unique_constraint_works_on_a_new_clinic(db):
    schemas.schema_create_from_template("delta")

    _remove_kpi_target_once("delta")

    assert "kpi_target_once" not in _constraint_names("delta", "crm_kpitarget")


def test_two_new_clinics_keep_their_rows_apart(db, in_tenant):
    first = tenant_provision(
        name="Delta", slug="delta", kind="dental", admin_email="a@delta.test", use_pool=False
    ).tenant
    second = tenant_provision(
        name="Echo", slug="echo", kind="dental", admin_email="a@echo.test", use_pool=False
    ).tenant

    with in_tenant(first):
        Department.objects.create(code="only-delta", name="Only Delta")
    with in_tenant(second):
        assert not Department.objects.filter(code="only-delta").exists()
        echo_departments = Department.objects.count()
    with in_tenant(first):
        assert Department.objects.count() == echo_departments + 1


@pytest.mark.parametrize(
    "name", ["Delta", "del ta", 'del"ta', "del;ta", "1delta", "pg_delta", "", "d" * 64]
)
def test_a_schema_name_that_is_not_one_we_create_is_refused(db, name):
    with pytest.raises(ValueError, match="Not a schema name we create"):
        schemas.schema_create_from_template(name)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [name])
        assert cursor.fetchone()[0] == 0


def test_a_replay_failing_midway_leaves_no_schema_and_the_search_path_as_it_was(db):
    script = TemplateSchema.objects.get(schema_name=schemas.template_name()).ddl
    statements = script.split(";\n")
    middle = len(statements) // 2
    broken = ";\n".join([*statements[:middle], "SELECT 1 / 0", *statements[middle:]])
    assert "CREATE TABLE" in ";".join(statements[:middle])  # it fails with tables made

    with pytest.raises(DatabaseError, match="division by zero"):
        ddl.ddl_replay(broken, "delta")

    assert not schema_exists("delta")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        assert cursor.fetchone()[0] == "public"
    assert Tenant.objects.filter(schema_name="alpha").exists()


def test_a_provisioning_whose_replay_fails_leaves_no_tenant_or_schema(db):
    TemplateSchema.objects.filter(schema_name=schemas.template_name()).update(
        ddl="CREATE TABLE crm_department (id bigint); SELECT 1 / 0;"
    )
    before = Tenant.objects.count()

    with pytest.raises(DatabaseError):
        tenant_provision(
            name="Delta", slug="delta", kind="dental", admin_email="a@delta.test", use_pool=False
        )

    connection.set_schema_to_public()
    assert Tenant.objects.count() == before
    assert not schema_exists("delta")


def test_a_provisioning_with_a_bad_slug_never_reaches_the_replay(db, monkeypatch):
    monkeypatch.setattr(ddl, "ddl_replay", pytest.fail)

    with pytest.raises(ValidationError):
        tenant_provision(
            name="X", slug="del ta", kind="dental", admin_email="a@x.test", use_pool=False
        )


def test_the_generator_refuses_a_template_holding_what_it_cannot_copy(db):
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE VIEW "{schemas.template_name()}".departments_view AS SELECT 1 AS one'
        )

    with pytest.raises(ddl.TemplateDdlError, match="relation departments_view of kind v"):
        ddl.template_ddl_generate(schemas.template_name())


def test_the_release_gives_an_old_clones_constraints_the_templates_names(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER TABLE "{tenant_a.schema_name}".crm_kpitarget '
            f'RENAME CONSTRAINT kpi_target_once TO "{KPI_TARGET_DEFAULT_NAME}"'
        )
    Tenant.objects.filter(pk=tenant_a.pk).update(sync_fingerprint="")

    report = release_run(processes=1)

    assert report.synced == [tenant_a.schema_name]
    assert "kpi_target_once" in _constraint_names(tenant_a.schema_name, "crm_kpitarget")
    assert KPI_TARGET_DEFAULT_NAME not in _constraint_names(tenant_a.schema_name, "crm_kpitarget")
    _remove_kpi_target_once(tenant_a.schema_name)
    assert "kpi_target_once" not in _constraint_names(tenant_a.schema_name, "crm_kpitarget")


def test_aligning_a_django_tenants_clone_renames_its_unique_constraints_once(db):
    CloneSchema()._create_clone_schema_function()
    with connection.cursor() as cursor:
        cursor.execute("SELECT clone_schema(%s, 'oldclone', 'DATA')", [schemas.template_name()])
    template = schema_picture(schemas.template_name())
    assert schema_picture("oldclone")["constraints"] != template["constraints"]

    renamed = schemas.constraint_names_align("oldclone")

    assert ("crm_kpitarget", KPI_TARGET_DEFAULT_NAME, "kpi_target_once") in renamed
    assert {_kind(template, new) for _table, _old, new in renamed} == {"u"}
    aligned = schema_picture("oldclone")
    assert [row[:3] for row in aligned["constraints"]] == [
        row[:3] for row in template["constraints"]
    ]
    assert [row[0] for row in aligned["indexes"]] == [row[0] for row in template["indexes"]]
    assert schemas.constraint_names_align("oldclone") == []


def _kind(picture: dict, name: str) -> str:
    return next(row[2] for row in picture["constraints"] if row[1] == name)

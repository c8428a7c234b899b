"""Low-level schema work for provisioning: the migrated template schema, its DDL script
(tenants.ddl) replayed to make a new schema, and the pool of ready-made schemas. Used by
tenants.services, the release (tenants.release) and the pool task."""

import functools
import hashlib
import json
import uuid
from importlib.util import find_spec
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import app_labels, schema_context, schema_exists

from cms.permissions import COLLECTION_PERMISSIONS, PAGE_PERMISSIONS
from cms.services import editor_permissions_sync, patient_site_seed
from crm.roles import ROLE_PERMISSIONS
from crm.services.staff import roles_sync

from . import ddl
from .models import PooledSchema, TemplateSchema

POOL_PREFIX = "_pool_"


@functools.cache
def migration_fingerprint() -> str:
    """A digest of the names of every tenant-app migration on disk: a template or pooled
    schema is fit for cloning only while it was migrated to exactly this set. (Names only: an
    applied migration is never edited in place here.)"""
    return migration_fingerprint_of(tenant_migration_names())


@functools.cache
def tenant_migration_names() -> frozenset[str]:
    """ "app.name" of every tenant-app migration on disk."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    tenant_labels = set(app_labels(settings.TENANT_APPS))
    return frozenset(
        f"{app}.{name}" for app, name in loader.disk_migrations if app in tenant_labels
    )


def migration_fingerprint_of(names) -> str:
    """The fingerprint of a code whose tenant migrations are ``names`` ("app.name"): the
    release a code with one more app would record (the scale benchmark's throwaway one)."""
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()


@functools.cache
def sync_fingerprint() -> str:
    """A digest of what a release gives every clinic after migrating: the roles' permissions,
    their Wagtail permissions and the template's constraint names. A clinic synced to this
    digest (Tenant.sync_fingerprint) is not synced again; one whose schema was migrated is,
    as new models bring new permissions."""
    return sync_fingerprint_at(migration_fingerprint())


def sync_fingerprint_at(schema_fingerprint: str) -> str:
    """The sync fingerprint of a clinic given this code's grants at the migration state
    ``schema_fingerprint``."""
    given = {
        "roles": {role: sorted(perms) for role, perms in ROLE_PERMISSIONS.items()},
        "pages": {role: sorted(perms) for role, perms in PAGE_PERMISSIONS.items()},
        "collections": {role: sorted(perms) for role, perms in COLLECTION_PERMISSIONS.items()},
        # Constraints under the template's names (constraint_names_align): bumped, every
        # clinic is aligned once more at the next release.
        "constraint_names": 1,
    }
    text = json.dumps(given, sort_keys=True) + schema_fingerprint
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def starter_fingerprint() -> str:
    """A digest of cms/starter.py, the starter articles: the template's Wagtail tree is rebuilt
    only when they changed (read as a file: the text is the content)."""
    return hashlib.sha256(Path(find_spec("cms.starter").origin).read_bytes()).hexdigest()


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def schema_migrate(schema_name: str, *, verbosity: int = 0) -> None:
    """Run every tenant migration in ``schema_name`` (which must exist)."""
    call_command(
        "migrate_schemas",
        tenant=True,
        schema_name=schema_name,
        interactive=False,
        verbosity=verbosity,
    )


def schema_create_by_migrations(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote(schema_name)}")
        # Inside the provisioning transaction every migration shares one transaction: check
        # foreign keys at once, or a data migration's pending checks block a later ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_migrate(schema_name)


def schema_create_from_template(target: str) -> bool:
    """Make schema ``target`` a copy of the template (structure under the same names, rows,
    sequence positions) by replaying the template's stored script, in the current
    transaction. False, and nothing done, when the template is not at the code's state."""
    script = (
        TemplateSchema.objects.filter(
            schema_name=template_name(),
            migration_fingerprint=migration_fingerprint(),
            ddl_fingerprint=template_ddl_fingerprint(),
        )
        .values_list("ddl", flat=True)
        .first()
    )
    if not script or not schema_exists(template_name()):
        return False
    ddl.ddl_replay(script, target)
    return True


def constraint_names_align(schema_name: str) -> list[tuple[str, str, str]]:
    """Give a clinic's constraints the names the template's have, where they are the same
    constraint (same table, kind and definition) under another name: clinics cloned by
    django-tenants' clone_schema() have their unique constraints under PostgreSQL's default
    names, and a migration removing one by its Django name failed on them. Run by the
    release once the clinic is at the template's migration state; a second run renames
    nothing. Returns the (table, old name, new name) renamed."""
    # The tables are looked up by name (the catalog's index), never by schema: a filter on
    # the schema alone scans every clinic's relations in pg_class (~0.1 s at 1,000 clinics).
    # Every model's table, whichever schema the router puts it in (a clinic lacks the rest).
    tables = sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH tables AS (
                SELECT name,
                       to_regclass(format('%%I.%%I', %(clinic)s::text, name)) AS clinic_table,
                       to_regclass(format('%%I.%%I', %(template)s::text, name)) AS template_table
                FROM unnest(%(tables)s::text[]) AS name
            ),
            pairs AS (
                SELECT tables.name AS table_name, c.conname AS old_name, t.conname AS new_name,
                       count(*) OVER (PARTITION BY c.oid) AS for_old,
                       count(*) OVER (PARTITION BY t.oid) AS for_new
                FROM tables
                JOIN pg_constraint c ON c.conrelid = tables.clinic_table
                JOIN pg_constraint t ON t.conrelid = tables.template_table
                     AND t.contype = c.contype
                     AND pg_get_constraintdef(t.oid) = pg_get_constraintdef(c.oid)
                WHERE c.contype IN ('p', 'u', 'x', 'c')
            )
            SELECT table_name, old_name, new_name FROM pairs
            WHERE old_name <> new_name AND for_old = 1 AND for_new = 1
              -- An index-backed constraint's index takes its name: no other may hold it.
              AND NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.relname = new_name
                              AND r.relnamespace = %(clinic)s::regnamespace)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = new_name
                              AND k.connamespace = %(clinic)s::regnamespace)
            ORDER BY table_name, old_name
            """,
            {"clinic": schema_name, "template": template_name(), "tables": tables},
        )
        renames = cursor.fetchall()
        if renames:
            cursor.execute(
                "".join(
                    f"ALTER TABLE {quote(schema_name)}.{quote(table)} "
                    f"RENAME CONSTRAINT {quote(old)} TO {quote(new)};\n"
                    for table, old, new in renames
                )
            )
    return renames


def connection_renew() -> None:
    """Close the connection that made a schema, once no transaction is open on it (the next
    query opens a fresh one). A backend keeps in its catalog caches every relation it
    created, ~700 a clinic, and never shrinks them: each schema made on one connection made
    the next cost more CPU (~4 ms a clinic, 500 ms to 900 ms over 100 provisionings; a fresh
    connection stays flat, BENCHMARKS.md, "A thousand clinics"). Reconnecting costs a few
    milliseconds."""
    if not connection.in_atomic_block:
        connection.close()


def schema_rename(source: str, target: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(source)} RENAME TO {quote(target)}")


def schema_drop(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema_name)} CASCADE")


def template_name() -> str:
    return settings.TENANT_TEMPLATE_SCHEMA


def template_ddl_fingerprint() -> str:
    return ddl.ddl_fingerprint(migration_fingerprint(), starter_fingerprint())


def template_is_current() -> bool:
    """The template is at the code's migration state and its script was generated from
    that state (and by this generator)."""
    return TemplateSchema.objects.filter(
        schema_name=template_name(),
        migration_fingerprint=migration_fingerprint(),
        ddl_fingerprint=template_ddl_fingerprint(),
    ).exists() and schema_exists(template_name())


def template_refresh(*, verbosity: int = 0) -> None:
    """Create or migrate the template schema, seed what every tenant shares (roles), record
    its migration state with the script that copies it (generated again only when that
    state, the starter articles or the generator changed), and drop pooled schemas made
    from an older state."""

    connection.set_schema_to_public()
    name = template_name()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {quote(name)}")
    schema_migrate(name, verbosity=verbosity)
    record = TemplateSchema.objects.filter(schema_name=name).defer("ddl").first()
    with schema_context(name):
        roles_sync()  # the template holds the roles every tenant starts with
        # The patient site and every kind's starter articles: a clone carries them, and
        # provisioning keeps those of the tenant's kind (cms.services.patient_site_prepare).
        # Rebuilt only when the starter articles changed: the rebuild is most of a refresh.
        patient_site_seed(
            rebuild=record is None or record.starter_fingerprint != starter_fingerprint()
        )
        editor_permissions_sync()
    with transaction.atomic():
        script_key = template_ddl_fingerprint()
        defaults = {
            "migration_fingerprint": migration_fingerprint(),
            "starter_fingerprint": starter_fingerprint(),
        }
        if record is None or record.ddl_fingerprint != script_key:
            defaults |= {"ddl": ddl.template_ddl_generate(name), "ddl_fingerprint": script_key}
        TemplateSchema.objects.update_or_create(schema_name=name, defaults=defaults)
    pool_discard_stale()


def pool_discard_stale() -> int:
    stale = list(
        PooledSchema.objects.exclude(
            migration_fingerprint=migration_fingerprint(),
            ddl_fingerprint=template_ddl_fingerprint(),
        )
    )
    for entry in stale:
        with transaction.atomic():
            schema_drop(entry.schema_name)
            entry.delete()
    return len(stale)


def pool_refill(size: int) -> int:
    """Copy the template until ``size`` schemas wait in the pool; returns how many were made."""
    if not template_is_current():
        template_refresh()
    made = 0
    fingerprints = {
        "migration_fingerprint": migration_fingerprint(),
        "ddl_fingerprint": template_ddl_fingerprint(),
    }
    while PooledSchema.objects.filter(**fingerprints).count() < size:
        schema_name = f"{POOL_PREFIX}{uuid.uuid4().hex[:12]}"
        with transaction.atomic():
            if not schema_create_from_template(schema_name):
                raise RuntimeError("The template schema changed while the pool was refilled.")
            PooledSchema.objects.create(schema_name=schema_name, **fingerprints)
        made += 1
        connection_renew()
    return made


def pool_claim(target: str) -> bool:
    """Inside the caller's transaction, rename one pooled schema to ``target``. False when the
    pool is empty; concurrent claims never get the same schema (SKIP LOCKED)."""
    entry = (
        PooledSchema.objects.select_for_update(skip_locked=True)
        .filter(
            migration_fingerprint=migration_fingerprint(),
            ddl_fingerprint=template_ddl_fingerprint(),
        )
        .first()
    )
    if entry is None:
        return False
    schema_rename(entry.schema_name, target)
    entry.delete()
    return True

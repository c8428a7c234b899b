"""Low-level schema work for provisioning: the migrated template schema, cloning it, and the
pool of ready-made schemas. Used by tenants.services, the migrate command and the pool task."""

import functools
import hashlib
import json
import uuid
from importlib.util import find_spec
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.clone import CloneSchema
from django_tenants.utils import app_labels, schema_context, schema_exists

from cms.permissions import COLLECTION_PERMISSIONS, PAGE_PERMISSIONS
from cms.services import editor_permissions_sync, patient_site_seed
from crm.roles import ROLE_PERMISSIONS
from crm.services.staff import roles_sync

from .models import PooledSchema, TemplateSchema

POOL_PREFIX = "_pool_"


@functools.cache
def migration_fingerprint() -> str:
    """A digest of the names of every tenant-app migration on disk: a template or pooled
    schema is fit for cloning only while it was migrated to exactly this set. (Names only: an
    applied migration is never edited in place here.)"""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    tenant_labels = set(app_labels(settings.TENANT_APPS))
    names = sorted(f"{app}.{name}" for app, name in loader.disk_migrations if app in tenant_labels)
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


@functools.cache
def sync_fingerprint() -> str:
    """A digest of what a release gives every clinic after migrating: the roles' permissions
    and their Wagtail permissions. A clinic synced to this digest (Tenant.sync_fingerprint) is
    not synced again; one whose schema was migrated is, as new models bring new permissions."""
    given = {
        "roles": {role: sorted(perms) for role, perms in ROLE_PERMISSIONS.items()},
        "pages": {role: sorted(perms) for role, perms in PAGE_PERMISSIONS.items()},
        "collections": {role: sorted(perms) for role, perms in COLLECTION_PERMISSIONS.items()},
    }
    text = json.dumps(given, sort_keys=True) + migration_fingerprint()
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


def schema_clone(source: str, target: str) -> None:
    """Copy ``source`` (structure and rows) to a new schema ``target`` in the current
    transaction. The clone function is installed by template_refresh, once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clone_schema(%s, %s, 'DATA')", [source, target])


def schema_rename(source: str, target: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(source)} RENAME TO {quote(target)}")


def schema_drop(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema_name)} CASCADE")


def template_name() -> str:
    return settings.TENANT_TEMPLATE_SCHEMA


def template_is_current() -> bool:
    return TemplateSchema.objects.filter(
        schema_name=template_name(), migration_fingerprint=migration_fingerprint()
    ).exists() and schema_exists(template_name())


def template_refresh(*, verbosity: int = 0) -> None:
    """Create or migrate the template schema, seed what every tenant shares (roles), record
    its migration state, and drop pooled schemas cloned from an older state."""

    connection.set_schema_to_public()
    name = template_name()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {quote(name)}")
    schema_migrate(name, verbosity=verbosity)
    record = TemplateSchema.objects.filter(schema_name=name).first()
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
        # Install (or update) the clone_schema() SQL function in public once, here: django-
        # tenants' CloneSchema.clone_schema() would re-create it before every single clone.
        CloneSchema()._create_clone_schema_function()
        TemplateSchema.objects.update_or_create(
            schema_name=name,
            defaults={
                "migration_fingerprint": migration_fingerprint(),
                "starter_fingerprint": starter_fingerprint(),
            },
        )
    pool_discard_stale()


def pool_discard_stale() -> int:
    stale = list(PooledSchema.objects.exclude(migration_fingerprint=migration_fingerprint()))
    for entry in stale:
        with transaction.atomic():
            schema_drop(entry.schema_name)
            entry.delete()
    return len(stale)


def pool_refill(size: int) -> int:
    """Clone the template until ``size`` schemas wait in the pool; returns how many were made."""
    if not template_is_current():
        template_refresh()
    made = 0
    fingerprint = migration_fingerprint()
    while PooledSchema.objects.filter(migration_fingerprint=fingerprint).count() < size:
        schema_name = f"{POOL_PREFIX}{uuid.uuid4().hex[:12]}"
        with transaction.atomic():
            schema_clone(template_name(), schema_name)
            PooledSchema.objects.create(schema_name=schema_name, migration_fingerprint=fingerprint)
        made += 1
    return made


def pool_claim(target: str) -> bool:
    """Inside the caller's transaction, rename one pooled schema to ``target``. False when the
    pool is empty; concurrent claims never get the same schema (SKIP LOCKED)."""
    entry = (
        PooledSchema.objects.select_for_update(skip_locked=True)
        .filter(migration_fingerprint=migration_fingerprint())
        .first()
    )
    if entry is None:
        return False
    schema_rename(entry.schema_name, target)
    entry.delete()
    return True

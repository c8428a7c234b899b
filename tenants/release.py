"""A release over every clinic: what ``migrate`` does after the public schema.

It costs what changed, not how many clinics exist. Each clinic row records the migration
state its schema was last brought to and what it was last given after migrating (roles and
their Wagtail permissions, constraints under the template's names); a clinic already at the
code's state is skipped by one query, the template schema is refreshed only when its own
state differs, and its Wagtail tree only when the starter articles changed.

The clinics that do need work are done by a pool of processes, one database connection each.
A clinic's migrations are not planned by Django's ``migrate`` clinic by clinic when they can be
replayed: the clinics at one recorded state need the same plan, so it is made once, from the
first of them, and when every operation in it writes the same SQL in any clinic (schema
changes named from the migration alone, RunSQL; no Python code, nothing read from the
clinic's catalog) its SQL is collected once and each clinic runs it and records the
migrations as Django's executor does, in one transaction, after checking its recorded
migrations are that state's. Anything else (a RunPython data migration, an AlterField, a
clinic whose history differs) goes through ``migrate_schemas`` for that clinic, as before.
Either way a clinic costs the same at 10 clinics as at 1,000 (BENCHMARKS.md, "A thousand
clinics").

A clinic's fingerprint is written only after its migrations succeeded, so a release that
fails at one clinic leaves every other clinic either done or untouched, reports the failures
with the schema and the error, and, run again, continues with what is left.

Migrations must be backward-compatible for one release (deploy/README.md, "Upgrading"): while
a release runs, clinics still at the old state keep serving the new code.

One release at a time: ``release_lock`` holds a PostgreSQL advisory lock for the whole
``migrate``, and a second run refuses at once naming the first (or, asked to, waits for it).
Two releases at once each plan the same clinics and the loser fails them with "already
exists" (BENCHMARKS.md, "A thousand clinics")."""

import multiprocessing
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.migrations import operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q
from django_tenants.utils import get_public_schema_name, tenant_context

from cms.services import editor_permissions_sync, patient_site_ensure
from crm.services.staff import roles_sync

from .models import Tenant
from .schemas import (
    constraint_names_align,
    migration_fingerprint,
    sync_fingerprint,
    sync_fingerprint_at,
    template_is_current,
    template_refresh,
)

# Operations whose SQL depends only on the migration: the same statements in every clinic at
# one state. Left out on purpose: RunPython (code, not SQL), AlterField, RenameField and
# RemoveField (the schema editor looks up the clinic's own constraint names), and operations
# that add, remove or rename models (content types and permissions follow in post_migrate).
REPLAYABLE_OPERATIONS = (
    operations.AddField,
    operations.AddIndex,
    operations.RemoveIndex,
    operations.AddConstraint,
    operations.RemoveConstraint,
    operations.RunSQL,
)


# The release's advisory lock: one bigint key (pg_locks shows it as classid, objid and
# objsubid 1), apart from the two-int keys the imports lock (crm.services.import_jobs).
RELEASE_LOCK_KEY = 0x43617265_52656C73  # "CareRels"
RELEASE_APPLICATION_NAME = "carebridge release"


class ReleaseRunning(RuntimeError):
    """Another release holds the lock on this database."""


@dataclass(frozen=True)
class ReplayPlan:
    """The migrations a clinic at one recorded state needs, as SQL."""

    applied: frozenset[tuple[str, str]]  # the django_migrations rows of that state
    statements: tuple[str, ...]
    records: tuple[tuple[str, str], ...]  # the rows the executor would add, in its order


@dataclass
class ReleaseReport:
    clinics: int = 0  # clinics that exist
    migrated: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # schema → error
    template_refreshed: bool = False
    seconds: float = 0.0


def _behind():
    return (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .filter(
            ~Q(schema_fingerprint=migration_fingerprint()) | ~Q(sync_fingerprint=sync_fingerprint())
        )
        .order_by("pk")
    )


def clinics_behind() -> list[str]:
    """The clinics whose schema or grants are not at the code's state."""
    return list(_behind().values_list("schema_name", flat=True))


def replay_plan(schema_name: str) -> ReplayPlan | None:
    """The plan that brings ``schema_name`` to the code's migrations, as SQL any clinic at
    the same recorded migrations can run; None when it cannot be replayed (see
    REPLAYABLE_OPERATIONS) or cannot be made here."""
    # Only this schema's django_migrations, never public's (as django-tenants checks it).
    connection.set_schema(schema_name, include_public=False)
    try:
        executor = MigrationExecutor(connection)
        executor.loader.check_consistent_history(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not all(
            not backwards
            and migration.atomic
            and not migration.replaces
            and all(isinstance(op, REPLAYABLE_OPERATIONS) for op in migration.operations)
            for migration, backwards in plan
        ):
            return None
        statements = executor.loader.collect_sql(plan)
        return ReplayPlan(
            applied=frozenset(executor.loader.applied_migrations),
            # collect_sql describes each operation in "--" comment lines: not statements.
            statements=tuple(sql for sql in statements if not sql.lstrip().startswith("--")),
            records=tuple((migration.app_label, migration.name) for migration, _ in plan),
        )
    except Exception:  # each clinic then goes through migrate and reports its own error
        return None
    finally:
        connection.set_schema_to_public()


def _replay(tenant: Tenant, plan: ReplayPlan, *, synced: bool) -> bool:
    """Run ``plan`` in one clinic and record it, with the clinic's new state on its row (and,
    when ``synced``, its grants as given at that state), in one transaction; False, and
    nothing done, when the clinic's recorded migrations are not the plan's starting state."""
    try:
        with transaction.atomic():
            connection.set_schema(tenant.schema_name, include_public=False)
            recorder = MigrationRecorder(connection)
            if not recorder.has_table() or frozenset(recorder.applied_migrations()) != plan.applied:
                return False
            # The search path django-tenants migrates a clinic with: the clinic, then public.
            connection.set_schema(tenant.schema_name)
            with connection.cursor() as cursor:
                for statement in plan.statements:
                    cursor.execute(statement)
            for app_label, name in plan.records:
                recorder.record_applied(app_label, name)  # what the executor records
            connection.set_schema_to_public()
            state = {"schema_fingerprint": migration_fingerprint()}
            if synced:
                state["sync_fingerprint"] = sync_fingerprint()
            Tenant.objects.filter(pk=tenant.pk).update(**state)
        return True
    finally:
        connection.set_schema_to_public()


def clinic_release(schema_name: str, plan: ReplayPlan | None = None) -> tuple[str, bool, str]:
    """Bring one clinic to the code's state: (schema, migrated?, error or ""). ``plan``, when
    given, is the replayable plan of the clinics at this one's recorded state."""
    try:
        tenant = Tenant.objects.get(schema_name=schema_name)
        migrated = tenant.schema_fingerprint != migration_fingerprint()
        # A replayed plan adds, removes and renames no model (REPLAYABLE_OPERATIONS), hence no
        # permission, role or page: a clinic that had this code's grants at its old state
        # has them at the new one, and its constraint names are unchanged.
        grants_current = tenant.sync_fingerprint == sync_fingerprint_at(tenant.schema_fingerprint)
        replayed = migrated and plan is not None and _replay(tenant, plan, synced=grants_current)
        if replayed and grants_current:
            return schema_name, migrated, ""
        if migrated and not replayed:
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


def _clinic_release_in_child(work: tuple[str, ReplayPlan | None]) -> tuple[str, bool, str]:
    try:
        return clinic_release(*work)
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
    rows = list(_behind().values_list("schema_name", "schema_fingerprint"))
    # One plan per recorded state, made from the first clinic at it.
    plans: dict[str, ReplayPlan | None] = {}
    for schema_name, fingerprint in rows:
        if fingerprint != migration_fingerprint() and fingerprint not in plans:
            plans[fingerprint] = replay_plan(schema_name)
    behind = [(schema_name, plans.get(fingerprint)) for schema_name, fingerprint in rows]
    if behind:
        if processes > 1 and len(behind) > 1:
            # Every child opens its own connection: none may inherit this process's.
            connections.close_all()
            context = multiprocessing.get_context("fork")
            with context.Pool(min(processes, len(behind)), maxtasksperchild=50) as pool:
                results = pool.imap_unordered(_clinic_release_in_child, behind)
                _collect(results, len(behind), report, progress)
        else:
            _collect((clinic_release(*work) for work in behind), len(behind), report, progress)
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


def _lock_holder(cursor) -> str:
    """Who holds the release lock, as the holder's own connection says it: since when, which
    process on which host, and its PostgreSQL backend."""
    cursor.execute(
        """
        SELECT a.pid, a.backend_start, a.application_name
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = %s AND l.objid = %s
        """,
        [RELEASE_LOCK_KEY >> 32, RELEASE_LOCK_KEY & 0xFFFFFFFF],
    )
    row = cursor.fetchone()
    if row is None:  # released between the attempt and this look
        return "another release is running"
    backend, started, name = row
    who = name.removeprefix(RELEASE_APPLICATION_NAME).strip() or "an unknown process"
    return (
        f"another release is running since {started:%Y-%m-%d %H:%M:%S %Z} "
        f"({who}, PostgreSQL backend pid {backend})"
    )


@contextmanager
def release_lock(*, wait: bool = False, waiting: Callable[[str], None] | None = None) -> Iterator:
    """Hold the release lock of this database while the block runs; ReleaseRunning at once
    when another release holds it, or, with ``wait``, wait for it (``waiting`` is told who).

    The lock is taken on a connection of its own, not Django's: the release closes Django's
    connections before forking its pool (a session lock would go with them), and its pool
    processes never use this one (they end by os._exit, so none closes it either). Session-
    level, so that it spans every transaction of the release, and is let go by the server if
    this process dies (a SIGKILLed release leaves no lock behind)."""
    params = connection.get_connection_params()
    params["application_name"] = (
        f"{RELEASE_APPLICATION_NAME} pid {os.getpid()} on {socket.gethostname()}"
    )[:63]  # PostgreSQL's identifier length
    holder = connection.Database.connect(**params)
    try:
        holder.autocommit = True
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELEASE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                running = _lock_holder(cursor)
                if not wait:
                    raise ReleaseRunning(running)
                if waiting:
                    waiting(f"{running}: waiting for it to end")
                cursor.execute("SELECT pg_advisory_lock(%s)", [RELEASE_LOCK_KEY])
        yield
    finally:
        holder.close()  # ends the session, and with it the lock

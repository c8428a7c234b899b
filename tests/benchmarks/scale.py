"""A thousand clinics on one database (issue 17), every line side by side in one run.

The expensive part, N clinic schemas in one database, is made once and reused by later runs
with ``--reuse``. The setup makes each clinic as provisioning does (tenant and domain rows at
the code's fingerprints, the template's schema, the clinic's own keys, its kind's preset),
by the same replay of the template's DDL (tenants.ddl), made in two processes. (No first
admin is invited.)
The parts run in this order, and the JSON is rewritten after each:

* noop      - a release with nothing to apply: our ``migrate`` (fingerprints: one query, then
              nothing) against the baseline, what the code did before fingerprints, measured
              in the same run: django-tenants' own migrate_schemas command over every schema
              (with Django's own MigrationRecorder.has_table, as before tenants/recorder.py),
              the template refreshed with its whole Wagtail tree rebuilt, then roles, Wagtail
              permissions and the patient site synced in every clinic.
* fanout    - the follow-up beat tick over 5,000 clinics: the N real clinics plus Tenant rows
              without a schema up to 5,000 (made for this part and deleted after it), sent by
              followup_fanout_task() to a real Redis broker. Then the N real clinics' ticks
              are taken off the queue and run in-process one after another (one worker).
* memory    - RSS of the PostgreSQL backend serving a web worker (Django's request handler,
              in this process, one persistent connection) while it visits every clinic's
              patient site and reads its worklist tables; read from /proc/<pid>/status of
              pg_backend_pid() (the database server is local). Then the connection is
              recycled, as CONN_MAX_AGE and PgBouncer's server_lifetime do, and measured again.
* provision - 100 new clinics by clone at N existing (median of the last 10), and 10 from the
              pool (refilled untimed); the new clinics are dropped afterwards.
* release   - a real release: a throwaway tenant app whose migration adds a nullable column
              and an index to crm_contact in every clinic. The app and a settings module that
              installs it are written to a temporary folder (never into the repository) and
              ``manage.py migrate`` runs in a child process with them. Then the same release
              again from the old state, killed (SIGKILL, the whole process group) once about
              half the clinics are done, and run again: it must finish with every schema at
              the new state and migrate no clinic twice. Afterwards every schema is put back
              to the code's state (untimed), so the next run starts from the same place.
* isolation - tests/stack/isolation.py through the whole stack of tests/stack (Debian's
              PgBouncer in session mode as deploy/ configures it, gunicorn with 3 workers,
              production settings, its own PostgreSQL): 100 clinics, 200 concurrent clients,
              20,000 requests mixing reads and writes; no foreign answer, no foreign row.
"""

import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from cms.services import editor_permissions_sync, patient_site_ensure, patient_site_seed
from crm.services.staff import roles_sync
from crm.tasks import followup_fanout_task
from saas.celery import app
from tenants import schemas
from tenants import tasks as tenant_tasks  # noqa: F401 - a pool claim queues its refill by name
from tenants.models import Domain, PooledSchema, TemplateSchema, Tenant
from tenants.recorder import DJANGO_HAS_TABLE
from tenants.services import public_tenant_ensure, tenant_provision

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "scale-"
NEW_PREFIX = "scalenew-"
FANOUT_PREFIX = "scalefan-"
KINDS = ("hospital", "aesthetic", "dental", "service")
PARTS = ("noop", "release", "provision", "fanout", "memory", "isolation")

BUDGET_NOOP_S = 15
BUDGET_RELEASE_S = 300
BUDGET_CLONE_MS = 1000
BUDGET_POOL_MS = 150
BUDGET_FANOUT_S = 60
FANOUT_CLINICS = 5000

# The throwaway release: a tenant app of its own, so that no file of the repository changes.
BENCH_APP = "scale_release_bench"
BENCH_TABLE = "crm_contact"
BENCH_COLUMN = "scale_bench_note"
BENCH_INDEX = "scale_bench_note_idx"
BENCH_MIGRATION = "0001_column_and_index"


def _slugs(count: int) -> list[str]:
    return [f"{PREFIX}{index:04d}" for index in range(1, count + 1)]


def _execute(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _scale_schemas() -> list[str]:
    return list(
        Tenant.objects.filter(schema_name__startswith=PREFIX)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def _catalog_vacuum() -> None:
    """Dropping schemas leaves the system catalogs bloated, which slows what follows until
    autovacuum catches up: start each part from clean catalogs."""
    for table in (
        "pg_class",
        "pg_attribute",
        "pg_type",
        "pg_depend",
        "pg_constraint",
        "pg_index",
        "pg_namespace",
        "pg_attrdef",
        "pg_sequence",
        "pg_trigger",
    ):
        _execute(f"VACUUM ANALYZE pg_catalog.{table}")


# --- Setup: N clinics, made once ---------------------------------------------------------------


def _clinic_by_replay(slug: str) -> None:
    from django.utils import translation

    from crm import crypto
    from tenants.presets import preset_apply

    index = int(slug.removeprefix(PREFIX))
    try:
        tenant = Tenant(
            schema_name=slug,
            name=f"Scale {index}",
            kind=KINDS[index % len(KINDS)],
            schema_fingerprint=schemas.migration_fingerprint(),
            sync_fingerprint=schemas.sync_fingerprint(),
        )
        with transaction.atomic():
            tenant.save()
            Domain.objects.create(domain=tenant.primary_host, tenant=tenant, is_primary=True)
            schemas.schema_create_from_template(slug)
            with tenant_context(tenant), translation.override(tenant.locale):
                crypto.keys_ensure()
                preset_apply(tenant)
    finally:
        connections.close_all()


def clinics_ensure(count: int, *, reuse: bool, processes: int = 2) -> dict:
    """The N clinics; with ``reuse`` those of an earlier run are kept and only the missing
    ones made, else every scale clinic is dropped and made again."""
    if Tenant._meta.db_table in connection.introspection.table_names():
        # An interrupted earlier run may have left its throwaway release: put it back before
        # migrate, which would otherwise find every clinic behind and go through them all.
        _release_revert()
    call_command("migrate", interactive=False, verbosity=0)
    public_tenant_ensure()
    _clinics_drop(NEW_PREFIX)
    _clinics_drop(FANOUT_PREFIX)
    if not reuse:
        _clinics_drop(PREFIX)
    wanted = _slugs(count)
    have = set(_scale_schemas())
    missing = [slug for slug in wanted if slug not in have]
    extra = sorted(have - set(wanted))
    if extra:  # kept from a run with a larger --clinics: not part of this one
        _clinics_drop(PREFIX, only=extra)
    started = time.perf_counter()
    if missing:
        print(f"Making {len(missing)} clinics ({processes} processes) ...", flush=True)
        connections.close_all()
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for done, _none in enumerate(pool.imap(_clinic_by_replay, missing), start=1):
                if done % 50 == 0 or done == len(missing):
                    rate = (time.perf_counter() - started) / done
                    print(f"  {done}/{len(missing)} ({rate:.2f} s per clinic)", flush=True)
    app.control.purge()  # the first admins' invitations, queued to the broker
    return {
        "clinics": len(_scale_schemas()),
        "made": len(missing),
        "setup_seconds": time.perf_counter() - started,
    }


def _clinics_drop(prefix: str, only: list[str] | None = None) -> None:
    connection.set_schema_to_public()
    clinics = Tenant.objects.filter(schema_name__startswith=prefix)
    if only is not None:
        clinics = clinics.filter(schema_name__in=only)
    names = list(clinics.values_list("schema_name", flat=True))
    if not names:
        return
    for name in names:
        schemas.schema_drop(name)
    Domain.objects.filter(tenant__schema_name__in=names).delete()
    clinics.delete()
    _catalog_vacuum()


# --- 1. The no-op release ----------------------------------------------------------------------


def _baseline_template_refresh() -> None:
    """tenants.schemas.template_refresh() as it was before fingerprints: the template migrated
    and its whole Wagtail tree rebuilt on every release."""
    from django_tenants.clone import CloneSchema

    connection.set_schema_to_public()
    name = schemas.template_name()
    schemas.schema_migrate(name)
    with schema_context(name):
        roles_sync()
        patient_site_seed(rebuild=True)
        editor_permissions_sync()
    CloneSchema()._create_clone_schema_function()
    schemas.pool_discard_stale()


@contextmanager
def _django_recorder():
    """Django's MigrationRecorder.has_table (a scan of every visible table per question) in
    place of tenants/recorder.py's lookup by name, while the baseline runs: the release as it
    was before issue 17."""
    ours = MigrationRecorder.has_table
    MigrationRecorder.has_table = DJANGO_HAS_TABLE
    try:
        yield
    finally:
        MigrationRecorder.has_table = ours


def _baseline_migrate(sample: list[str] | None, timings: dict, started: float) -> None:
    if sample is None:
        call_command(MigrateSchemasCommand(), interactive=False, verbosity=0)
        return
    call_command(MigrateSchemasCommand(), interactive=False, verbosity=0, shared=True)
    timings["public"] = time.perf_counter() - started
    for schema_name in sample:
        call_command(
            MigrateSchemasCommand(),
            interactive=False,
            verbosity=0,
            tenant=True,
            schema_name=schema_name,
        )


def baseline_release(sample: list[str] | None) -> dict:
    """What a no-op ``migrate`` did before fingerprints, timed by step. ``sample``: only these
    clinics (the rest extrapolated linearly), else every clinic through django-tenants' own
    migrate_schemas command."""
    timings = {}
    started = time.perf_counter()
    with _django_recorder():
        _baseline_migrate(sample, timings, started)
    timings["migrate_schemas"] = time.perf_counter() - started
    step = time.perf_counter()
    _baseline_template_refresh()
    timings["template_refresh"] = time.perf_counter() - step
    step = time.perf_counter()
    clinics = Tenant.objects.exclude(schema_name=get_public_schema_name())
    if sample is not None:
        clinics = clinics.filter(schema_name__in=sample)
    for tenant in clinics:
        with tenant_context(tenant):
            roles_sync()
            editor_permissions_sync()
            patient_site_ensure(kind=tenant.kind, locale=tenant.locale)
    connection.set_schema_to_public()
    timings["roles_sync"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    return timings


def noop_measure(clinics: int, baseline_clinics: int | None, runs: int = 3) -> dict:
    ours = []
    for _ in range(runs):
        started = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        ours.append(time.perf_counter() - started)
        print(f"  our no-op migrate: {ours[-1]:.2f} s", flush=True)
    sample = None
    if baseline_clinics is not None and baseline_clinics < clinics:
        sample = _scale_schemas()[:: max(1, clinics // baseline_clinics)][:baseline_clinics]
    print(f"  baseline over {len(sample) if sample else clinics} clinics ...", flush=True)
    baseline = baseline_release(sample)
    result = {
        "ours_seconds": ours,
        "ours_median_seconds": statistics.median(ours),
        "baseline": baseline,
        "baseline_clinics": len(sample) if sample else clinics,
    }
    if sample:
        # The public schema and the template are paid once a release; the rest scales with N.
        once = baseline["template_refresh"] + baseline["public"]
        per_clinic = (baseline["total"] - once) / len(sample)
        result["baseline_extrapolated_seconds"] = once + per_clinic * clinics
    # The baseline left the grants as they were and the template's tree rebuilt (same
    # content): the clinics' fingerprints still hold; ours must again find nothing to do.
    call_command("migrate", interactive=False, verbosity=0)
    return result


# --- 2. A real release, whole and interrupted ---------------------------------------------------


def _release_files() -> Path:
    """A temporary folder holding the throwaway app and a settings module installing it."""
    folder = Path(tempfile.mkdtemp(prefix="carebridge-scale-release-"))
    loader = MigrationLoader(None, ignore_no_migrations=True)
    crm_leaf = loader.graph.leaf_nodes("crm")[0][1]
    package = folder / BENCH_APP
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "__init__.py").write_text("")
    (package / "migrations" / f"{BENCH_MIGRATION}.py").write_text(
        textwrap.dedent(
            f"""
            from django.db import migrations


            class Migration(migrations.Migration):
                dependencies = [("crm", "{crm_leaf}")]
                operations = [
                    migrations.RunSQL(
                        sql=[
                            "ALTER TABLE {BENCH_TABLE} ADD COLUMN {BENCH_COLUMN} varchar(40) NULL",
                            "CREATE INDEX {BENCH_INDEX} ON {BENCH_TABLE} ({BENCH_COLUMN})",
                        ],
                        reverse_sql=[
                            "ALTER TABLE {BENCH_TABLE} DROP COLUMN {BENCH_COLUMN}",
                        ],
                    )
                ]
            """
        )
    )
    (folder / "scale_release_settings.py").write_text(
        textwrap.dedent(
            f"""
            from saas.settings.local import *  # noqa: F403

            TENANT_APPS = [*TENANT_APPS, "{BENCH_APP}"]  # noqa: F405
            INSTALLED_APPS = [*INSTALLED_APPS, "{BENCH_APP}"]  # noqa: F405
            """
        )
    )
    return folder


def _release_process(folder: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "scale_release_settings",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        # --wait: the killed run's session (and its release lock) may still be ending.
        [sys.executable, "manage.py", "migrate", "--noinput", "--processes", "2", "--wait"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its pool processes are killed with it
    )


def _release_state() -> dict:
    """Per scale clinic: has the column, how many times the migration is recorded, and
    whether its row says it is at the new state (its fingerprint differs from the code's)."""
    code = schemas.migration_fingerprint()
    rows = {}
    for tenant in Tenant.objects.filter(schema_name__startswith=PREFIX).only(
        "schema_name", "schema_fingerprint"
    ):
        name = tenant.schema_name
        column, recorded, indexed = _execute(
            "SELECT"
            " (SELECT count(*) FROM information_schema.columns WHERE table_schema = %s"
            "  AND table_name = %s AND column_name = %s),"
            f" (SELECT count(*) FROM {schemas.quote(name)}.django_migrations WHERE app = %s),"
            " (SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexname = %s)",
            [name, BENCH_TABLE, BENCH_COLUMN, BENCH_APP, name, BENCH_INDEX],
        )[0]
        rows[name] = {
            "column": column,
            "recorded": recorded,
            "indexed": indexed,
            "new_fingerprint": tenant.schema_fingerprint != code,
        }
    return rows


def _bench_fingerprint() -> str:
    """The migration state the throwaway release records: the code's plus its migration."""
    return schemas.migration_fingerprint_of(
        schemas.tenant_migration_names() | {f"{BENCH_APP}.{BENCH_MIGRATION}"}
    )


def _release_revert() -> int:
    """Untimed: undo the throwaway release and nothing else (column, index and record gone;
    clinics, template and pooled schemas it brought to its state back at the code's).
    Returns how many schemas had its column.

    A clinic behind for any other reason (a database made by older code) stays behind, for
    ``migrate`` to bring up; so does one whose row says it is at the code's state while its
    schema lacks some of the code's migrations (how this function, before, left clinics it
    marked current without migrating them)."""
    connection.set_schema_to_public()
    having = [
        row[0]
        for row in _execute(
            "SELECT table_schema FROM information_schema.columns"
            " WHERE table_name = %s AND column_name = %s",
            [BENCH_TABLE, BENCH_COLUMN],
        )
    ]
    recorded = [
        row[0]
        for row in _execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
            ["django_migrations"],
        )
    ]
    for name in having:
        _execute(f"ALTER TABLE {schemas.quote(name)}.{BENCH_TABLE} DROP COLUMN {BENCH_COLUMN}")
    for name in recorded:
        _execute(f"DELETE FROM {schemas.quote(name)}.django_migrations WHERE app = %s", [BENCH_APP])
    code, sync = schemas.migration_fingerprint(), schemas.sync_fingerprint()
    bench = _bench_fingerprint()
    clinics = Tenant.objects.exclude(schema_name=get_public_schema_name())
    # Grants the release gave at its state are this code's grants at the code's state.
    clinics.filter(
        schema_fingerprint=bench, sync_fingerprint=schemas.sync_fingerprint_at(bench)
    ).update(schema_fingerprint=code, sync_fingerprint=sync)
    clinics.filter(schema_fingerprint=bench).update(schema_fingerprint=code)
    # Its script is generated again by the next migrate (its DDL fingerprint is the release's).
    TemplateSchema.objects.filter(
        schema_name=schemas.template_name(), migration_fingerprint=bench
    ).update(migration_fingerprint=code)
    for entry in PooledSchema.objects.exclude(migration_fingerprint=code):
        schemas.schema_drop(entry.schema_name)
        entry.delete()
    short = _clinics_missing_migrations()
    if short:
        print(
            f"  {len(short)} clinics recorded at the code's state lack some of its migrations"
            f" (first: {short[0]}): marked behind, for migrate to bring them up",
            flush=True,
        )
        clinics.filter(schema_name__in=short).update(schema_fingerprint="")
    return len(having)


def _clinics_missing_migrations() -> list[str]:
    """The clinics whose row says they are at the code's migration state while their schema
    has not recorded every migration of the code's graph (one query over every schema)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    wanted = sorted(
        f"{app}.{name}"
        for app, name in loader.graph.nodes
        if f"{app}.{name}" in schemas.tenant_migration_names()
    )
    names = [
        row[0]
        for row in _execute(
            f"SELECT t.schema_name FROM {Tenant._meta.db_table} t"  # noqa: S608
            " WHERE t.schema_fingerprint = %s AND t.schema_name <> %s"
            " AND to_regclass(format('%%I.django_migrations', t.schema_name)) IS NOT NULL"
            " ORDER BY t.schema_name",
            [schemas.migration_fingerprint(), get_public_schema_name()],
        )
    ]
    if not names:
        return []
    counts = _execute(
        " UNION ALL ".join(
            f"SELECT %s, count(*) FROM {schemas.quote(name)}.django_migrations"  # noqa: S608
            " WHERE app || '.' || name = ANY(%s)"
            for name in names
        ),
        [value for name in names for value in (name, wanted)],
    )
    return sorted(name for name, count in counts if count < len(wanted))


def _release_whole(folder: Path) -> dict:
    started = time.perf_counter()
    process = _release_process(folder)
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    summary = [line for line in output.splitlines() if line.startswith("Release:")]
    print(f"  whole release: {seconds:.1f} s; {summary[-1] if summary else output[-2000:]}")
    return {"seconds": seconds, "returncode": process.returncode, "summary": summary[-1:]}


def _release_interrupted(folder: Path, clinics: int) -> dict:
    """Killed when at least half the clinics are reported done, then run again."""
    half = clinics // 2
    started = time.perf_counter()
    process = _release_process(folder)
    killed_at = None
    for line in process.stdout:
        if "clinics done" in line and int(line.split("/", 1)[0].strip()) >= half:
            os.killpg(process.pid, signal.SIGKILL)
            killed_at = line.strip()
            break
    process.wait()
    process.stdout.close()
    first_seconds = time.perf_counter() - started
    state = _release_state()
    done_before = {name for name, row in state.items() if row["new_fingerprint"]}
    applied_before = {name for name, row in state.items() if row["recorded"]}
    print(
        f"  killed at '{killed_at}' after {first_seconds:.1f} s: {len(done_before)} clinics "
        f"recorded at the new state, {len(applied_before)} with the migration applied",
        flush=True,
    )

    started = time.perf_counter()
    process = _release_process(folder)
    output, _ = process.communicate()
    resume_seconds = time.perf_counter() - started
    summary = [line for line in output.splitlines() if line.startswith("Release:")]
    print(f"  resumed: {resume_seconds:.1f} s; {summary[-1] if summary else output[-2000:]}")
    after = _release_state()
    recorded_twice = [name for name, row in after.items() if row["recorded"] != 1]
    incomplete = [
        name
        for name, row in after.items()
        if not (row["column"] and row["indexed"] and row["new_fingerprint"])
    ]
    migrated_again = None
    if summary:
        # "Release: N clinics, M migrated, ..." - M must be the clinics not done before.
        migrated_again = int(summary[-1].split(",")[1].split()[0])
    return {
        "killed_at": killed_at,
        "first_seconds": first_seconds,
        "done_before_kill": len(done_before),
        "applied_before_kill": len(applied_before),
        "resume_seconds": resume_seconds,
        "resume_returncode": process.returncode,
        "resume_summary": summary[-1:],
        "resume_migrated": migrated_again,
        "expected_resume_migrated": clinics - len(done_before),
        "recorded_not_once": recorded_twice,
        "not_at_new_state": incomplete,
    }


def release_measure(clinics: int) -> dict:
    folder = _release_files()
    try:
        _release_revert()
        whole = _release_whole(folder)
        state = _release_state()
        whole["at_new_state"] = sum(
            1
            for row in state.values()
            if row["column"] and row["indexed"] and row["new_fingerprint"]
        )
        print(f"  reverting {_release_revert()} schemas (untimed) ...", flush=True)
        interrupted = _release_interrupted(folder, clinics)
    finally:
        _release_revert()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    call_command("migrate", interactive=False, verbosity=0)  # template and clinics current
    return {"whole": whole, "interrupted": interrupted}


# --- 3. Provisioning at N clinics ---------------------------------------------------------------


def provision_measure(series: int = 100, pooled: int = 10) -> dict:
    run_id = uuid.uuid4().hex[:4]
    clone_ms, pool_ms = [], []
    try:
        for index in range(series):
            slug = f"{NEW_PREFIX}{run_id}-{index}"
            started = time.perf_counter()
            result = tenant_provision(
                name=f"New {index}",
                slug=slug,
                kind=KINDS[index % len(KINDS)],
                admin_email=f"admin@{slug}.test",
                use_pool=False,
            )
            clone_ms.append((time.perf_counter() - started) * 1000)
            assert result.method == "clone", result.method
            if index % 10 == 9:
                print(f"  clone {index + 1}/{series}: {clone_ms[-1]:.0f} ms", flush=True)
        for index in range(pooled):
            schemas.pool_refill(1)  # untimed, as the refill task does it after a claim
            slug = f"{NEW_PREFIX}{run_id}-p{index}"
            started = time.perf_counter()
            result = tenant_provision(
                name=f"Pooled {index}",
                slug=slug,
                kind=KINDS[index % len(KINDS)],
                admin_email=f"admin@{slug}.test",
                use_pool=True,
            )
            pool_ms.append((time.perf_counter() - started) * 1000)
            assert result.method == "pool", result.method
    finally:
        _clinics_drop(NEW_PREFIX)
        app.control.purge()
    return {
        "clone_ms": clone_ms,
        "clone_first10_median_ms": statistics.median(clone_ms[:10]) if clone_ms else None,
        "clone_last10_median_ms": statistics.median(clone_ms[-10:]) if clone_ms else None,
        "pool_ms": pool_ms,
        "pool_median_ms": statistics.median(pool_ms) if pool_ms else None,
    }


# --- 4. The beat fan-out over 5,000 clinics -----------------------------------------------------


def fanout_measure(total: int = FANOUT_CLINICS) -> dict:
    connection.set_schema_to_public()
    real = set(_scale_schemas())
    rows = max(0, total - Tenant.objects.exclude(schema_name=get_public_schema_name()).count())
    code, sync = schemas.migration_fingerprint(), schemas.sync_fingerprint()
    Tenant.objects.bulk_create(
        [
            Tenant(
                schema_name=f"{FANOUT_PREFIX}{index:04d}",
                name=f"Fan-out {index}",
                schema_fingerprint=code,
                sync_fingerprint=sync,
            )
            for index in range(1, rows + 1)
        ],
        batch_size=1000,
    )
    try:
        app.control.purge()
        started = time.perf_counter()
        sent = followup_fanout_task()
        send_seconds = time.perf_counter() - started

        ticks_ms, messages, skipped = [], 0, 0
        started = time.perf_counter()
        with app.connection_for_read() as broker:
            queue = broker.SimpleQueue(app.conf.task_default_queue)
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                message.ack()
                messages += 1
                schema = message.headers["_schema_name"]
                if schema not in real:
                    skipped += 1  # a row without a schema: counted as sent, not run
                    continue
                task = app.tasks[message.headers["task"]]
                args, kwargs, _embed = message.decode()
                tick_started = time.perf_counter()
                task.apply(args, kwargs, headers={"_schema_name": schema}).get()
                ticks_ms.append((time.perf_counter() - tick_started) * 1000)
            queue.close()
        ticks_seconds = time.perf_counter() - started
    finally:
        connection.set_schema_to_public()
        Tenant.objects.filter(schema_name__startswith=FANOUT_PREFIX).delete()
    return {
        "clinics": sent,
        "with_schema": len(real),
        "rows_without_schema": rows,
        "broker": settings.CELERY_BROKER_URL,
        "send_seconds": send_seconds,
        "messages_in_broker": messages,
        "ticks_run": len(ticks_ms),
        "drain_seconds": ticks_seconds,
        "ticks_sum_seconds": sum(ticks_ms) / 1000,
        "tick_median_ms": statistics.median(ticks_ms) if ticks_ms else None,
        # The ticks' own work, all 5,000 on one worker process (the budget is the fan-out).
        "ticks_one_worker_extrapolated_seconds": (
            statistics.mean(ticks_ms) * sent / 1000 if ticks_ms else None
        ),
    }


# --- 5. Memory of a backend that visited every clinic --------------------------------------------


def backend_memory() -> dict:
    pid = _execute("SELECT pg_backend_pid()")[0][0]
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssShmem"):
            fields[key] = int(value.split()[0]) // 1024  # MiB
    # The backend's own account: its catalog caches (relations, their indexes and attributes)
    # and everything it allocated.
    # PostgreSQL 18 names a context's parent by its place in `path`, no longer by name.
    has_parent = _execute(
        "SELECT count(*) FROM pg_attribute WHERE attname = 'parent'"
        " AND attrelid = 'pg_backend_memory_contexts'::regclass"
    )[0][0]
    child_of_cache = (
        "parent = 'CacheMemoryContext'"
        if has_parent
        else "path[level - 1] = (SELECT path[level] FROM pg_backend_memory_contexts"
        " WHERE name = 'CacheMemoryContext' LIMIT 1)"
    )
    caches, allocated = _execute(
        "SELECT sum(total_bytes) FILTER (WHERE name = 'CacheMemoryContext'"  # noqa: S608
        f" OR {child_of_cache}), sum(total_bytes) FROM pg_backend_memory_contexts"
    )[0]
    fields["CacheMemoryContext"] = int(caches or 0) // 2**20
    fields["contexts"] = int(allocated or 0) // 2**20
    return {"pid": pid, **fields}


def _visit(client: Client, tenant: Tenant) -> int:
    from crm.models import Contact, Encounter, FollowUpTask

    response = client.get("/", HTTP_HOST=tenant.primary_host, follow=True)
    with tenant_context(tenant):
        # What the worklist and a contact page read.
        list(FollowUpTask.objects.order_by("due_at")[:20])
        list(Encounter.objects.order_by("-occurred_at")[:20])
        Contact.objects.count()
    return response.status_code


def memory_measure() -> dict:
    clinics = list(Tenant.objects.filter(schema_name__startswith=PREFIX).order_by("schema_name"))
    client = Client()
    settings_dict = connection.settings_dict
    kept_age = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = None  # one connection for the whole visit: the worst case
    connections.close_all()
    try:
        connection.ensure_connection()
        curve = [{"clinics": 0, **backend_memory()}]
        statuses: dict[int, int] = {}
        checkpoints = {1, 10, 50, 100, 250, 500, 750, len(clinics)}
        started = time.perf_counter()
        for done, tenant in enumerate(clinics, start=1):
            code = _visit(client, tenant)
            statuses[code] = statuses.get(code, 0) + 1
            if done in checkpoints:
                connection.set_schema_to_public()
                curve.append({"clinics": done, **backend_memory()})
                print(f"  after {done} clinics: {curve[-1]}", flush=True)
        visit_seconds = time.perf_counter() - started
        pid_before = curve[-1]["pid"]
        connection.close()  # what CONN_MAX_AGE / server_lifetime do to an old connection
        connection.ensure_connection()
        _visit(client, clinics[0])
        connection.set_schema_to_public()
        recycled = backend_memory()
    finally:
        settings_dict["CONN_MAX_AGE"] = kept_age
        connections.close_all()
    assert recycled["pid"] != pid_before
    return {
        "curve": curve,
        "statuses": statuses,
        "visit_seconds": visit_seconds,
        "clinics_per_second": len(clinics) / visit_seconds,
        "after_recycling": recycled,
    }


# --- 6. Isolation through PgBouncer -------------------------------------------------------------


def isolation_measure(clinics: int = 100, clients: int = 200, total: int = 20_000) -> dict:
    from tests.stack import isolation
    from tests.stack.test_whole_stack import _stack_up, manage

    with ExitStack() as cleanup:
        print(
            "  starting the stack (PostgreSQL, PgBouncer, Redis, gunicorn, workers) ...", flush=True
        )
        stack = next(_stack_up(cleanup))
        started = time.perf_counter()
        output = manage(stack.env, "shell", "-c", isolation.SETUP.replace("COUNT", str(clinics)))
        keys = json.loads(output.split("KEYS", 1)[1])
        setup_seconds = time.perf_counter() - started
        print(f"  {len(keys)} clinics provisioned in {setup_seconds:.0f} s; load ...", flush=True)
        result = isolation.isolation_load(
            base=stack.web,
            host_of=lambda slug: f"{slug}.localhost",
            keys=keys,
            clients=clients,
            total=total,
        )
        output = manage(stack.env, "shell", "-c", isolation.CHECK)
        pool_mode = _pgbouncer_mode(stack)
    return {
        "clinics": len(keys),
        "clients": clients,
        "requests": result.requests,
        "seconds": result.seconds,
        "requests_per_second": result.requests / result.seconds,
        "foreign_answers": result.foreign,
        "foreign_rows": int(output.split("WRONG", 1)[1]),
        "errors": dict(result.errors),
        "examples": result.examples,
        "pgbouncer_pool_mode": pool_mode,
    }


def _pgbouncer_mode(stack) -> str:
    text = (stack.folder / "pgbouncer.ini").read_text()
    for line in text.splitlines():
        if line.replace(" ", "").startswith("pool_mode="):
            return line.split("=", 1)[1].strip()
    return "?"


# --- The run ------------------------------------------------------------------------------------


def run(
    *,
    clinics: int,
    reuse: bool,
    parts: list[str],
    baseline_clinics: int | None,
    json_path: Path,
    series: int = 100,
    pooled: int = 10,
) -> dict:
    report: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "clinics": clinics,
        "load_average_start": os.getloadavg(),
    }
    if not parts or set(parts) - {"isolation"}:
        print(f"Setup: {clinics} clinics ({'reused' if reuse else 'fresh'}) ...", flush=True)
        report["setup"] = clinics_ensure(clinics, reuse=reuse)
        print(f"  {report['setup']}", flush=True)
    # The cheap parts first; the JSON is written after each part, so a run stopped midway
    # keeps what it measured.
    for part, measure in (
        ("noop", lambda: noop_measure(clinics, baseline_clinics)),
        ("fanout", fanout_measure),
        ("memory", memory_measure),
        ("provision", lambda: provision_measure(series, pooled)),
        ("release", lambda: release_measure(clinics)),
        ("isolation", isolation_measure),
    ):
        if part in parts:
            print(f"\n== {part}", flush=True)
            report[part] = measure()
            report[part]["load_average"] = os.getloadavg()
            _write(report, json_path)
    report["budget"] = _budget(report)
    _print(report)
    _write(report, json_path)
    print(f"\nJSON written to {json_path}")
    return report


def _write(report: dict, json_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str))


def _machine() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "postgresql": server}


def _budget(report: dict) -> list[dict]:
    lines = []
    if noop := report.get("noop"):
        baseline = noop.get("baseline_extrapolated_seconds", noop["baseline"]["total"])
        lines.append(
            {
                "check": f"no-op release <= {BUDGET_NOOP_S} s",
                "value": f"{noop['ours_median_seconds']:.1f} s (baseline {baseline:.1f} s"
                + (
                    f", extrapolated from {noop['baseline_clinics']}"
                    if "baseline_extrapolated_seconds" in noop
                    else ""
                )
                + ")",
                "ok": noop["ours_median_seconds"] <= BUDGET_NOOP_S,
            }
        )
    if release := report.get("release"):
        whole, cut = release["whole"], release["interrupted"]
        lines.append(
            {
                "check": f"real release <= {BUDGET_RELEASE_S} s",
                "value": f"{whole['seconds']:.1f} s, {whole['at_new_state']}/{report['clinics']}"
                " at the new state",
                "ok": whole["seconds"] <= BUDGET_RELEASE_S
                and whole["returncode"] == 0
                and whole["at_new_state"] == report["clinics"],
            }
        )
        lines.append(
            {
                "check": "interrupted release resumes: all at the new state, none done twice",
                "value": f"killed with {cut['done_before_kill']} done, resumed "
                f"{cut['resume_migrated']} (expected {cut['expected_resume_migrated']}) in "
                f"{cut['resume_seconds']:.1f} s",
                "ok": cut["resume_returncode"] == 0
                and not cut["recorded_not_once"]
                and not cut["not_at_new_state"]
                and cut["resume_migrated"] == cut["expected_resume_migrated"],
            }
        )
    provision = report.get("provision")
    if provision and provision["clone_ms"]:
        lines.append(
            {
                "check": f"clone median of the last 10 of {len(provision['clone_ms'])} new"
                f" clinics <= {BUDGET_CLONE_MS} ms",
                "value": f"{provision['clone_last10_median_ms']:.0f} ms",
                "ok": provision["clone_last10_median_ms"] <= BUDGET_CLONE_MS,
            }
        )
    if provision and provision["pool_ms"]:
        lines.append(
            {
                "check": f"pool median <= {BUDGET_POOL_MS} ms",
                "value": f"{provision['pool_median_ms']:.0f} ms",
                "ok": provision["pool_median_ms"] <= BUDGET_POOL_MS,
            }
        )
    if fanout := report.get("fanout"):
        lines.append(
            {
                "check": f"beat fan-out over {FANOUT_CLINICS} clinics <= {BUDGET_FANOUT_S} s",
                "value": f"{fanout['send_seconds']:.1f} s to send {fanout['clinics']}",
                "ok": fanout["send_seconds"] <= BUDGET_FANOUT_S
                and fanout["messages_in_broker"] == fanout["clinics"],
            }
        )
    if isolation := report.get("isolation"):
        lines.append(
            {
                "check": "isolation load: 0 foreign answers and rows",
                "value": f"{isolation['foreign_answers']} answers, {isolation['foreign_rows']} "
                f"rows in {isolation['requests']} requests",
                "ok": isolation["foreign_answers"] == 0 and isolation["foreign_rows"] == 0,
            }
        )
    return lines


def _print(report: dict) -> None:
    print(f"\nScale at {report['clinics']} clinics")
    if memory := report.get("memory"):
        last, after = memory["curve"][-1], memory["after_recycling"]
        print(
            f"  backend RSS: {memory['curve'][0]['VmRSS']} MiB fresh, {last['VmRSS']} MiB "
            f"(anon {last.get('RssAnon')} MiB) after {last['clinics']} clinics, "
            f"{after['VmRSS']} MiB (anon {after.get('RssAnon')} MiB) after recycling"
        )
    for line in report["budget"]:
        print(f"  {'PASS' if line['ok'] else 'FAIL'}  {line['check']}: {line['value']}")

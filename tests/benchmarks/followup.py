"""The follow-up engine at scale (issue 3): three budgets, measured in one run.

* worklist - a hospital tenant holding 1,000,000 tasks over 200,000 encounters, made by
  set-based SQL (INSERT ... SELECT over generate_series) and kept between runs. An agent's
  worklist view is requested end to end through Django's test client (middleware, session,
  queries, template): the first page, a deep page (keyset cursor half way down the list)
  and the "mine" scope, plus an empty list as a baseline of what the page costs without
  tasks. Budget: server time p95 <= 50 ms per page, and EXPLAIN (ANALYZE, BUFFERS) of the
  exact SQL of each page shows index scans only, no sequential scan. The SQL is also timed
  alone, and the rows the plan reads only to throw away are counted: a keyset page that
  really is a range scan throws away few, however deep it is.
* planning - encounters_plan() over 100,000 newly imported discharges in a second hospital
  tenant, with the preset rules. Budget: <= 30 s. It runs a second time to show that
  planning is idempotent (creates nothing) and what re-planning costs.
* fan-out - the followup-tick beat job over 500 tenants. followup_fanout_task() puts one
  message per tenant into the in-memory broker; the messages are then taken off the queue
  and run in-process, one after another, as a single worker would (tenant-schemas-celery
  switches to the tenant named in each message). Budget: send + all ticks <= 60 s.

Why these: the worklist is the page agents keep open all day, and the deep page is where
keyset pagination must hold (OFFSET would not); a nightly import plans tens of thousands
of encounters at once; the tick runs every 5 minutes for every tenant, so it has to finish
well within its period however many tenants there are.

The data is realistic in shape, not in content: ~70 % of tasks closed (completed,
unreachable, cancelled, excluded) and ~30 % open, due dates spread over +-120 days (due at
local midnight, as planned tasks are), tiers 1 and 2, some assigned to agents or clinicians,
some in department queues. Open tasks keep their overdue backlog (no tick ever ran in this
tenant), so the worklist is larger than a tenant with a running worker would have: a
harsher test. The tenants live in a database of their own, carebridge_bench_followup."""

import json
import logging
import math
import os
import platform
import re
import shutil
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm import selectors
from crm.models import Department, Encounter, FollowUpTask, RuleStep
from crm.roles import Role
from crm.selectors import Scope, WorklistFilters
from crm.services.planning import PLAN_TASK_CHUNK, encounters_plan
from crm.tasks import followup_fanout_task
from saas.celery import app
from tenants import schemas
from tenants.models import Tenant
from tenants.services import public_tenant_ensure, tenant_provision

BUDGET_PAGE_P95_MS = 50
BUDGET_PLAN_S = 30
BUDGET_FANOUT_S = 60

WORKLIST_SLUG = "bench-worklist"
PLANNING_SLUG = "bench-planning"
FANOUT_PREFIX = "bench-fanout-"
KINDS = ("hospital", "aesthetic", "dental", "service")
PASSWORD = "bench-password-not-secret"
AGENTS = 10
CLINICIANS = 5
WARMUP = 20
# A sequential scan of a table this small (a few staff, departments, rules) is the planner's
# cheapest path and no risk; any larger one fails the EXPLAIN check.
SMALL_TABLE_ROWS = 1000
TASK_BATCH = 250_000  # rows per INSERT: each commits on its own, keeping FK trigger queues small
# Disk a fan-out tenant may take (a clone measured ~6 MB) and what we leave free.
TENANT_DISK_MB = 20
DISK_MARGIN_MB = 2048

User = get_user_model()


# --- Shared helpers ----------------------------------------------------------------------------


def _summary_ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_ms": statistics.median(values),
        "p95_ms": ordered[math.ceil(0.95 * len(ordered)) - 1],  # nearest rank
        "max_ms": ordered[-1],
    }


def _database_prepare() -> None:
    """Migrate only when something is pending: migrate_schemas visits every tenant, and this
    database keeps 500 of them."""
    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending or not schemas.template_is_current():
        print("Migrating the benchmark database (public, template and every tenant) ...")
        call_command("migrate", verbosity=0)
    public_tenant_ensure()


def _tenant(slug: str, *, kind: str = "hospital", index: int = 0) -> Tenant:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=slug).first()
    if tenant is None:
        tenant = tenant_provision(
            name=f"Bench {slug}",
            slug=slug,
            kind=kind,
            admin_email=f"admin{index}@{slug}.test",
            use_pool=False,
        ).tenant
    return tenant


def _staff(role: str, count: int) -> list[int]:
    """``count`` active staff of ``role`` in the current tenant (made once, kept)."""
    group = Group.objects.get(name=role)
    ids = []
    for i in range(count):
        email = f"{role}{i}@bench.test"
        user, created = User.objects.get_or_create(
            username=email, defaults={"email": email, "first_name": role, "last_name": str(i)}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
            user.groups.add(group)
        ids.append(user.pk)
    return ids


def _execute(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _records_clear() -> None:
    _execute(
        "TRUNCATE crm_followuptask, crm_callattempt, crm_encounter, crm_contactphone,"
        " crm_contact RESTART IDENTITY CASCADE"
    )


def _contacts_insert(count: int, *, no_phone_share: float = 0.0) -> None:
    """``count`` contacts, ids 1..count (after _records_clear), each with one mobile number
    except a ``no_phone_share`` of them. Names and numbers as plain text (read as they are, as
    rows from before encryption) with stand-in index values: what is timed here is the
    worklist and planning, not encryption."""
    _execute(
        """
        INSERT INTO crm_contact (name, name_index, sex, birth_date, record_no, email, address,
            language, do_not_contact, do_not_contact_reason, deceased, notes, created_at,
            updated_at)
        SELECT '患者' || g, md5('患者' || g), (ARRAY['F', 'M'])[1 + g %% 2],
               DATE '1930-01-01' + (random() * 30000)::int, 'ZY' || lpad(g::text, 9, '0'),
               '', '', '', random() < 0.01, '', false, '', now(), now()
        FROM generate_series(1, %(count)s) AS g
        """,
        {"count": count},
    )
    _execute(
        """
        INSERT INTO crm_contactphone (contact_id, number, number_index, tail_index, label,
            position, invalid)
        SELECT id, '+86138' || lpad(id::text, 8, '0'), md5(id::text), md5(right(id::text, 4)),
               'mobile', 0, false
        FROM crm_contact WHERE random() >= %(share)s
        """,
        {"share": no_phone_share},
    )


def _analyze() -> None:
    # VACUUM as well, so the visibility map is set as autovacuum would have left it.
    for table in ("crm_contact", "crm_contactphone", "crm_encounter", "crm_followuptask"):
        _execute(f"VACUUM (ANALYZE) {table}")


# --- (a) The worklist --------------------------------------------------------------------------


def _worklist_data(tenant: Tenant, *, tasks: int, encounters: int, rebuild: bool) -> dict:
    with tenant_context(tenant):
        agents = _staff(Role.AGENT, AGENTS)
        clinicians = _staff(Role.CLINICIAN, CLINICIANS)
        have = (FollowUpTask.objects.count(), Encounter.objects.count())
        if rebuild or have != (tasks, encounters):
            print(f"Generating {tasks:,} tasks over {encounters:,} encounters ...", flush=True)
            started = time.perf_counter()
            _worklist_generate(tasks, encounters, agents, clinicians)
            print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
        else:
            print(f"Reusing {tasks:,} tasks over {encounters:,} encounters in {tenant.schema_name}")
        by_status = dict(
            FollowUpTask.objects.values_list("status").annotate(n=Count("id")).order_by()
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('crm_followuptask')")
            table_mb = cursor.fetchone()[0] / 2**20
    return {
        "tasks": sum(by_status.values()),
        "encounters": encounters,
        "by_status": by_status,
        "open": by_status.get("pending", 0) + by_status.get("in_progress", 0),
        "task_table_mb": round(table_mb),
    }


def _worklist_generate(tasks: int, encounters: int, agents: list, clinicians: list) -> None:
    """One contact (with one phone) per encounter, then ``tasks`` tasks spread evenly over
    the encounters: task g belongs to encounter g % encounters + 1 and takes the tenant's
    (step, sequence) number g // encounters, so (encounter, step, sequence) stays unique."""
    steps = list(RuleStep.objects.select_related("rule").order_by("rule__position", "position"))
    departments = list(Department.objects.order_by("pk").values_list("pk", flat=True))
    _records_clear()
    _execute("SELECT setseed(0.42)")
    _contacts_insert(encounters)
    _execute(
        """
        INSERT INTO crm_encounter (contact_id, kind, department_id, attending_name, occurred_at,
            serial_no, age, diagnosis_code, diagnosis, procedure_code, procedure,
            treatment_course, discharge_outcome, bed, tags, source, external_id, notes,
            created_at, updated_at)
        SELECT id, (ARRAY['discharge', 'discharge', 'discharge', 'surgery'])[1 + id %% 4],
               (%(departments)s::bigint[])[1 + id %% %(n_departments)s], '',
               now() - random() * interval '240 days', '', 18 + (random() * 70)::int, '', '',
               '', '', '', 'improved', '', '{}', 'bench', '', '', now(), now()
        FROM crm_contact
        """,
        {"departments": departments, "n_departments": len(departments)},
    )
    params = {
        "encounters": encounters,
        "zone": connection.tenant.timezone,
        "n_steps": len(steps),
        "step_ids": [s.pk for s in steps],
        "rule_ids": [s.rule_id for s in steps],
        "names": [f"{s.rule.name} · {s.name}" for s in steps],
        "agents": agents,
        "clinicians": clinicians,
        "departments": departments,
    }
    for start in range(0, tasks, TASK_BATCH):
        _execute(TASKS_SQL, {**params, "start": start, "stop": min(tasks, start + TASK_BATCH)})
        print(f"  {min(tasks, start + TASK_BATCH):>9,} tasks", flush=True)
    _analyze()


# Status: 27 % pending, 3 % in progress (claimed), 45 % completed, 13 % unreachable, 6 %
# cancelled, 6 % excluded. Tier 1 (20 %): the department's queue, half of them assigned to
# a clinician. Tier 2: 70 % the follow-up centre, 20 % assigned to an agent, 10 % a
# department queue. A quarter of open tasks had one unanswered attempt and wait for a retry
# between a day ago and a day from now. Windows: opens 5 days before due, closes 7 after.
TASKS_SQL = """
WITH draw AS (
    SELECT g, g %% %(encounters)s + 1 AS encounter_id, g / %(encounters)s AS slot,
           random() AS r_status, random() AS r_who, random() < 0.2 AS tier1,
           floor(random() * 241)::int - 120 AS due_day, random() AS r_retry
    FROM generate_series(%(start)s, %(stop)s - 1) AS g
), task AS (
    SELECT draw.*,
           CASE WHEN r_status < 0.27 THEN 'pending' WHEN r_status < 0.30 THEN 'in_progress'
                WHEN r_status < 0.75 THEN 'completed' WHEN r_status < 0.88 THEN 'unreachable'
                WHEN r_status < 0.94 THEN 'cancelled' ELSE 'excluded' END AS status,
           (date_trunc('day', now() AT TIME ZONE %(zone)s) + due_day * interval '1 day')
               AT TIME ZONE %(zone)s AS due_at,
           1 + slot %% %(n_steps)s AS step_no
    FROM draw
), shaped AS (
    SELECT task.*, status IN ('pending', 'in_progress') AS open,
           status IN ('pending', 'in_progress') AND r_retry < 0.25 AS retrying
    FROM task
)
INSERT INTO crm_followuptask (encounter_id, contact_id, rule_id, step_id, sequence, name,
    channel, tier, assignee_id, department_id, opens_at, due_at, closes_at, status, reason,
    max_attempts, retry_gap_hours, attempts_count, next_attempt_at, last_outcome,
    reached_in_window, completed_at, result_summary, claimed_by_id, claimed_until,
    created_at, updated_at)
SELECT t.encounter_id, e.contact_id, (%(rule_ids)s::bigint[])[t.step_no],
       (%(step_ids)s::bigint[])[t.step_no], 1 + t.slot / %(n_steps)s,
       (%(names)s::text[])[t.step_no], 'phone', CASE WHEN t.tier1 THEN 1 ELSE 2 END,
       CASE WHEN t.tier1 AND t.r_who < 0.5
                THEN (%(clinicians)s::int[])[1 + t.g %% cardinality(%(clinicians)s::int[])]
            WHEN NOT t.tier1 AND t.r_who >= 0.7 AND t.r_who < 0.9
                THEN (%(agents)s::int[])[1 + t.g %% cardinality(%(agents)s::int[])] END,
       CASE WHEN t.tier1 OR t.r_who >= 0.9 THEN e.department_id END,
       t.due_at - interval '5 days', t.due_at, t.due_at + interval '7 days', t.status,
       CASE t.status WHEN 'unreachable' THEN 'attempts_exhausted' WHEN 'cancelled'
            THEN 'readmitted' WHEN 'excluded' THEN 'tag' ELSE '' END,
       3, 4,
       CASE WHEN t.status = 'unreachable' THEN 3 WHEN t.status = 'completed' OR t.retrying
            THEN 1 ELSE 0 END,
       CASE WHEN t.retrying THEN now() + (t.r_retry * 8 - 1) * interval '1 day' END,
       CASE WHEN t.status = 'completed' THEN 'reached'
            WHEN t.status = 'unreachable' OR t.retrying THEN 'no_answer' ELSE '' END,
       CASE WHEN t.status = 'completed' THEN true END,
       CASE WHEN NOT t.open THEN least(t.due_at, now()) - interval '1 day' END, '',
       CASE WHEN t.status = 'in_progress'
            THEN (%(agents)s::int[])[1 + t.g %% cardinality(%(agents)s::int[])] END,
       CASE WHEN t.status = 'in_progress' THEN now() + interval '10 minutes' END,
       now(), now()
FROM shaped t JOIN crm_encounter e ON e.id = t.encounter_id
"""


def _plan_lines(sql: str, params) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return [row[0] for row in cursor.fetchall()]


def _seq_scans(plan_text: str) -> list[dict]:
    """Every table the plan reads sequentially, and how many rows it holds."""
    scans = []
    with connection.cursor() as cursor:
        for table in sorted(set(re.findall(r"Seq Scan on (\w+)", plan_text))):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            scans.append({"table": table, "rows": cursor.fetchone()[0]})
    return scans


@dataclass(frozen=True)
class Page:
    url: str
    rows: int  # rows of the list from this page on: the view offers "next" past 51
    filters: WorklistFilters | None = None  # None: the view runs no worklist query
    cursor: str = ""
    budgeted: bool = True


def _worklist_pages(tenant: Tenant, agent) -> dict[str, Page]:
    with tenant_context(tenant):
        now = timezone.now()
        centre = selectors.worklist(agent, WorklistFilters(), now=now)
        size = centre.count()
        # The cursor the view hands out after half of the agent's list: OFFSET size // 2.
        due_at, pk = centre.values_list("due_at", "pk")[size // 2]
        cursor = selectors.cursor_encode(FollowUpTask(pk=pk, due_at=due_at))
        mine = WorklistFilters(scope=Scope.MINE)
        mine_size = selectors.worklist(agent, mine, now=now).count()
    print(
        f"Worklist of {agent.username}: {size:,} tasks due now in the centre list, deep cursor"
        f" after row {size // 2:,} ({cursor}); {mine_size:,} in 'mine'",
        flush=True,
    )
    return {
        "first page": Page("/worklist/", size, WorklistFilters()),
        "deep page": Page(
            f"/worklist/?after={cursor}", size - size // 2, WorklistFilters(), cursor
        ),
        "mine, first page": Page("/worklist/?scope=mine", mine_size, mine),
        # Baseline, not budgeted: the agent has no department, so the same view and template
        # with no rows and no worklist query - what the page costs before any task.
        "empty list": Page("/worklist/?scope=department", 0, budgeted=False),
    }


def _worklist_measure(tenant: Tenant, *, requests: int) -> dict:
    """Time the view through the test client, then each page's SQL alone, and EXPLAIN it."""
    with tenant_context(tenant):
        agent = User.objects.get(username=f"{Role.AGENT}0@bench.test")
    pages = _worklist_pages(tenant, agent)
    client = Client(HTTP_HOST=tenant.primary_host)
    login = client.post("/accounts/login/", {"username": agent.username, "password": PASSWORD})
    assert login.status_code == 302, f"login failed ({login.status_code})"
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for round_no in range(WARMUP + requests):
        for name, page in pages.items():  # interleaved, so background noise hits all alike
            started = time.perf_counter()
            response = client.get(page.url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, f"{page.url}: {response.status_code}"
            more = page.rows > selectors.WORKLIST_PAGE
            assert (b'rel="next"' in response.content) == more, f"{page.url}: not {page.rows} rows"
            if round_no >= WARMUP:
                samples[name].append(elapsed)

    results = {}
    with tenant_context(tenant):
        for name, page in pages.items():
            results[name] = {"url": page.url, "budgeted": page.budgeted}
            results[name]["view"] = _summary_ms(samples[name])
            if page.filters is None:
                continue
            after = selectors.cursor_decode(page.cursor) if page.cursor else None
            qs = selectors.worklist(agent, page.filters, now=timezone.now(), after=after)
            sql, params = qs[: selectors.WORKLIST_PAGE + 1].query.sql_with_params()
            sql_ms = []
            with connection.cursor() as db:
                for round_no in range(WARMUP + requests):
                    started = time.perf_counter()
                    db.execute(sql, params)
                    db.fetchall()
                    if round_no >= WARMUP:
                        sql_ms.append((time.perf_counter() - started) * 1000)
            plan = _plan_lines(sql, params)
            text = "\n".join(plan)
            results[name] |= {
                "sql": _summary_ms(sql_ms),
                "explain": plan,
                "seq_scans": _seq_scans(text),
                # Rows read and thrown away to return the page: ~0 for a true range scan.
                "rows_filtered": sum(map(int, re.findall(r"Rows Removed by Filter: (\d+)", text))),
                "sql_text": sql,
            }
    return {"agent": agent.username, "pages": results, "load_average": os.getloadavg()}


# --- (b) Planning ------------------------------------------------------------------------------


def _planning_measure(tenant: Tenant, *, count: int) -> dict:
    """``count`` new discharges of the last 10 days, with what an import brings: a few
    deaths and self-discharges, chronic and privacy-sensitive tags, contacts without a phone
    or who opted out. Planned twice: the second run must create nothing."""
    with tenant_context(tenant):
        _records_clear()
        # The last run's deleted rows would otherwise bloat this run's inserts.
        for table in ("crm_followuptask", "crm_encounter", "crm_contactphone", "crm_contact"):
            _execute(f"VACUUM ANALYZE {table}")
        departments = list(Department.objects.order_by("pk").values_list("pk", flat=True))
        _contacts_insert(count, no_phone_share=0.03)
        _execute(
            """
            INSERT INTO crm_encounter (contact_id, kind, department_id, attending_name,
                occurred_at, serial_no, age, diagnosis_code, diagnosis, procedure_code,
                procedure, treatment_course, discharge_outcome, bed, tags, source,
                external_id, notes, created_at, updated_at)
            SELECT id, 'discharge', (%(departments)s::bigint[])[1 + id %% %(n)s], '',
                   now() - random() * interval '10 days', '', 18 + (random() * 70)::int,
                   'I10', '', '', '', '', (ARRAY['improved', 'improved', 'cured', 'cured',
                   'improved', 'unchanged', 'improved', 'cured', 'improved', 'improved',
                   'improved', 'cured', 'improved', 'cured', 'improved', 'improved', 'cured',
                   'improved', 'died', 'self_discharged'])[1 + id %% 20], '',
                   CASE WHEN id %% 20 = 3 THEN ARRAY['chronic']
                        WHEN id %% 100 = 7 THEN ARRAY['privacy-sensitive']
                        ELSE '{}'::varchar[] END,
                   'his', 'ZY-' || id, '', now(), now()
            FROM crm_contact
            """,
            {"departments": departments, "n": len(departments)},
        )
        _analyze()
        ids = list(Encounter.objects.values_list("pk", flat=True))
        print(f"Planning {len(ids):,} new encounters in {tenant.schema_name} ...", flush=True)
        started = time.perf_counter()
        first = encounters_plan(ids)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        again = encounters_plan(ids)
        again_s = time.perf_counter() - started
        by_status = dict(
            FollowUpTask.objects.values_list("status").annotate(n=Count("id")).order_by()
        )
        # As an import queues it: chunks of PLAN_TASK_CHUNK encounters, taken by two worker
        # processes (this machine's 2 cores) from one queue.
        _execute("DELETE FROM crm_followuptask")
        _execute("VACUUM ANALYZE crm_followuptask")
        chunks = [ids[i : i + PLAN_TASK_CHUNK] for i in range(0, len(ids), PLAN_TASK_CHUNK)]
        connections.close_all()  # each worker process opens its own connection
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork")) as pool:
            created = sum(pool.map(_plan_chunk, [tenant.schema_name] * len(chunks), chunks))
        workers_s = time.perf_counter() - started
    return {
        "workers": 2,
        "workers_seconds": workers_s,
        "workers_created": created,
        "encounters": len(ids),
        "seconds": first_s,
        "created": first.created,
        "updated": first.updated,
        "tasks_by_status": by_status,
        "again_seconds": again_s,
        "again_created": again.created,
        "again_updated": again.updated,
    }


def _plan_chunk(schema_name: str, ids: list[int]) -> int:
    """One planning task, as a Celery worker process would run it."""
    connections.close_all()
    with tenant_context(Tenant.objects.get(schema_name=schema_name)):
        return encounters_plan(ids).created


# --- (c) The beat fan-out ----------------------------------------------------------------------


def _fanout_slugs(count: int) -> list[str]:
    return [f"{FANOUT_PREFIX}{i:03d}" for i in range(1, count + 1)]


def _fanout_tenants(count: int) -> tuple[list[str], str]:
    """Make the missing fan-out tenants, as many as the disk allows; returns their slugs and
    a note when fewer than ``count`` could be made."""
    connection.set_schema_to_public()
    wanted = _fanout_slugs(count)
    have = set(Tenant.objects.filter(schema_name__in=wanted).values_list("schema_name", flat=True))
    missing = [slug for slug in wanted if slug not in have]
    free_mb = shutil.disk_usage(settings.DATA_DIR).free / 2**20
    room = max(0, int((free_mb - DISK_MARGIN_MB) // TENANT_DISK_MB))
    note = ""
    if len(missing) > room:
        note = f"disk allows {room} more tenants, not {len(missing)}"
        print(f"WARNING: {note}; measuring {len(have) + room}", flush=True)
        missing = missing[:room]
    if missing:
        print(f"Provisioning {len(missing)} fan-out tenants by clone ...", flush=True)
    started = time.perf_counter()
    for done, slug in enumerate(missing, start=1):
        index = int(slug.removeprefix(FANOUT_PREFIX))
        _tenant(slug, kind=KINDS[index % len(KINDS)], index=index)
        if done % 25 == 0 or done == len(missing):
            rate = (time.perf_counter() - started) / done
            print(f"  {done}/{len(missing)} ({rate:.2f} s per tenant)", flush=True)
    made = set(Tenant.objects.filter(schema_name__in=wanted).values_list("schema_name", flat=True))
    return [slug for slug in wanted if slug in made], note


# Per tenant: 8 tasks of one encounter. The tick has work on four of them: one stale claim
# to release, two windows closed three and five days ago, one tier-1 task overdue since
# yesterday with no attempt, to move to the centre.
FANOUT_TASKS = [
    # status, tier, due in days, claim ended minutes ago
    ("pending", 2, 2, None),
    ("pending", 2, 3, None),
    ("pending", 2, -10, None),
    ("pending", 2, -12, None),
    ("in_progress", 2, 1, 5),
    ("pending", 1, -1, None),
    ("completed", 2, -20, None),
    ("completed", 2, -30, None),
]
EXPECTED_TICK = {"released": 1, "closed": 2, "escalated": 1}


def _fanout_reset(slugs: list[str]) -> None:
    """Untimed: give every fan-out tenant its 8 tasks back, as before any tick ran."""
    rows = ", ".join(
        f"('{status}', {tier}, {due}, {'NULL' if claim is None else claim})"
        for status, tier, due, claim in FANOUT_TASKS
    )
    for tenant in Tenant.objects.filter(schema_name__in=slugs):
        with tenant_context(tenant):
            _execute("DELETE FROM crm_followuptask")
            if not Encounter.objects.exists():
                _contacts_insert(1)
                _execute(
                    "INSERT INTO crm_encounter (contact_id, kind, attending_name, occurred_at,"
                    " serial_no, diagnosis_code, diagnosis, procedure_code, procedure,"
                    " treatment_course, discharge_outcome, bed, tags, source, external_id,"
                    " notes, created_at, updated_at)"
                    " SELECT id, 'discharge', '', now(), '', '', '', '', '', '', '', '', '{}',"
                    " 'bench', '', '', now(), now() FROM crm_contact"
                )
            _execute(
                f"""
                INSERT INTO crm_followuptask (encounter_id, contact_id, sequence, name, channel,
                    tier, opens_at, due_at, closes_at, status, reason, max_attempts,
                    retry_gap_hours, attempts_count, last_outcome, result_summary,
                    completed_at, claimed_until, created_at, updated_at)
                SELECT e.id, e.contact_id, 1, 'Bench', 'phone', spec.tier,
                       now() + (spec.due - 5) * interval '1 day', now() + spec.due * interval
                       '1 day', now() + (spec.due + 7) * interval '1 day', spec.status, '', 3,
                       4, 0, '', '', CASE WHEN spec.status = 'completed' THEN now() END,
                       now() - spec.claim * interval '1 minute', now(), now()
                FROM crm_encounter e, (VALUES {rows}) AS spec(status, tier, due, claim)
                """
            )


def _fanout_measure(slugs: list[str]) -> dict:
    """Send, then drain the queue and run each message's task in-process, in order."""
    connection.set_schema_to_public()
    app.control.purge()  # provisioning queued invitation emails into the same broker
    started = time.perf_counter()
    sent = followup_fanout_task()
    send_s = time.perf_counter() - started

    fleet = set(slugs)
    ticks_ms: list[float] = []
    others: dict[str, dict] = {}
    skipped = 0  # fan-out tenants kept from a larger run than this one
    totals = dict.fromkeys(EXPECTED_TICK, 0)
    started = time.perf_counter()
    with app.connection_for_read() as broker:
        queue = broker.SimpleQueue(app.conf.task_default_queue)
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            message.ack()
            task = app.tasks[message.headers["task"]]
            schema = message.headers["_schema_name"]
            args, kwargs, _embed = message.decode()
            if schema.startswith(FANOUT_PREFIX) and schema not in fleet:
                skipped += 1
                continue
            if schema not in fleet:
                others[schema] = _tick_rolled_back(task, schema)
                continue
            tick_started = time.perf_counter()
            result = task.apply(args, kwargs, headers={"_schema_name": schema}).get()
            ticks_ms.append((time.perf_counter() - tick_started) * 1000)
            for key in totals:
                totals[key] += result[key]
        queue.close()
    run_s = time.perf_counter() - started - sum(o["seconds"] for o in others.values())
    for schema in others:  # clear the rolled-back row versions, so the next run starts clean
        with tenant_context(Tenant.objects.get(schema_name=schema)):
            _execute("VACUUM crm_followuptask")
    return {
        "tenants": len(ticks_ms),
        "messages_sent": sent,
        "messages_skipped": skipped,
        "send_seconds": send_s,
        "ticks_seconds": run_s,
        "total_seconds": send_s + run_s,
        "tick": _summary_ms(ticks_ms),
        "tick_totals": totals,
        "tick_totals_expected": {k: v * len(ticks_ms) for k, v in EXPECTED_TICK.items()},
        "other_tenants": others,
    }


def _tick_rolled_back(task, schema: str) -> dict:
    """The tick of a bench tenant outside the fleet (e.g. the worklist's million tasks): timed
    twice in a row (its first pass closes the overdue backlog, the second is what every
    later tick costs) and rolled back, so the data stays as generated."""
    started = time.perf_counter()
    passes = []
    with transaction.atomic():
        for _ in range(2):
            tick_started = time.perf_counter()
            result = task.apply(headers={"_schema_name": schema}).get()
            passes.append({"ms": (time.perf_counter() - tick_started) * 1000, **result})
        transaction.set_rollback(True)
    connection.set_schema_to_public()
    return {"passes": passes, "seconds": time.perf_counter() - started}


def _fanout_drop() -> None:
    """Every fan-out tenant, also those of an earlier run with a larger --tenants."""
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(schema_name__startswith=FANOUT_PREFIX):
        schemas.schema_drop(tenant.schema_name)
        tenant.domains.all().delete()
        tenant.delete()
    _execute("VACUUM ANALYZE")


# --- The run -----------------------------------------------------------------------------------


def run(
    *,
    tasks: int,
    encounters: int,
    plan_encounters: int,
    tenants: int,
    requests: int,
    parts: list[str],
    rebuild: bool,
    drop_fanout: bool,
    json_path: Path,
) -> dict:
    # One INFO line per tick and a warning about the memory broker's host: not results.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    _database_prepare()
    report: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "parameters": {
            "tasks": tasks,
            "encounters": encounters,
            "plan_encounters": plan_encounters,
            "tenants": tenants,
            "requests": requests,
        },
    }
    if "worklist" in parts:
        tenant = _tenant(WORKLIST_SLUG)
        dataset = _worklist_data(tenant, tasks=tasks, encounters=encounters, rebuild=rebuild)
        report["worklist"] = {"dataset": dataset, **_worklist_measure(tenant, requests=requests)}
    if "planning" in parts:
        planning = _planning_measure(_tenant(PLANNING_SLUG), count=plan_encounters)
        report["planning"] = planning | {"load_average": os.getloadavg()}
    if "fanout" in parts:
        slugs, note = _fanout_tenants(tenants)
        if slugs:
            print(f"Resetting the tasks of {len(slugs)} fan-out tenants ...", flush=True)
            _fanout_reset(slugs)
            fanout = _fanout_measure(slugs)
            fanout["note"] = note
            fanout["load_average"] = os.getloadavg()
            if len(slugs) < tenants:
                fanout["extrapolated_seconds"] = fanout["total_seconds"] * tenants / len(slugs)
            report["fanout"] = fanout
        else:
            print(f"No fan-out measured: {note}")
        if drop_fanout:
            _fanout_drop()
    report["budget"] = _budget(report, tenants)
    _print(report)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    print(f"\nJSON written to {json_path}")
    return report


def _machine() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), current_setting('shared_buffers')")
        server, shared_buffers = cursor.fetchone()
    return {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "postgresql": server,
        "shared_buffers": shared_buffers,
        "debug": settings.DEBUG,
    }


def _budget(report: dict, tenants: int) -> list[dict]:
    lines = []
    worklist = report.get("worklist")
    if worklist:
        pages = {n: p for n, p in worklist["pages"].items() if p["budgeted"]}
        for name, page in pages.items():
            p95 = page["view"]["p95_ms"]
            lines.append(
                {
                    "check": f"worklist {name}: server p95 <= {BUDGET_PAGE_P95_MS} ms",
                    "value": f"{p95:.1f} ms",
                    "ok": p95 <= BUDGET_PAGE_P95_MS,
                }
            )
        for name, page in pages.items():
            scans = page["seq_scans"]
            named = ", ".join(f"{s['table']} ({s['rows']:,} rows)" for s in scans)
            lines.append(
                {
                    "check": f"worklist {name}: EXPLAIN, no Seq Scan of a real table",
                    "value": f"Seq Scan only on {named}" if scans else "index scans only",
                    "ok": all(s["rows"] <= SMALL_TABLE_ROWS for s in scans),
                }
            )
    planning = report.get("planning")
    if planning:
        lines.append(
            {
                "check": f"plan {planning['encounters']:,} new encounters <= {BUDGET_PLAN_S} s"
                f" ({planning['workers']} workers, as an import queues it)",
                "value": f"{planning['workers_seconds']:.1f} s, "
                f"{planning['workers_created']:,} tasks (one process: "
                f"{planning['seconds']:.1f} s)",
                "ok": planning["workers_seconds"] <= BUDGET_PLAN_S
                and planning["workers_created"] == planning["created"],
            }
        )
    fanout = report.get("fanout")
    if fanout:
        seconds = fanout.get("extrapolated_seconds", fanout["total_seconds"])
        measured = ""
        if "extrapolated_seconds" in fanout:
            measured = f" (extrapolated from {fanout['tenants']})"
        lines.append(
            {
                "check": f"beat fan-out over {tenants} tenants <= {BUDGET_FANOUT_S} s",
                "value": f"{seconds:.1f} s{measured}",
                "ok": seconds <= BUDGET_FANOUT_S,
            }
        )
        lines.append(
            {
                "check": "every tick did its work (released, closed, escalated)",
                "value": str(fanout["tick_totals"]),
                "ok": fanout["tick_totals"] == fanout["tick_totals_expected"],
            }
        )
    return lines


def _print(report: dict) -> None:
    worklist = report.get("worklist")
    if worklist:
        dataset = worklist["dataset"]
        print(
            f"\nWorklist tenant: {dataset['tasks']:,} tasks ({dataset['open']:,} open) over"
            f" {dataset['encounters']:,} encounters, task table {dataset['task_table_mb']} MB"
        )
        print(
            f"{'page (ms)':<20}{'view p50':>9}{'p95':>8}{'max':>8}"
            f"{'sql p50':>9}{'p95':>8}{'rows filtered':>15}"
        )
        for name, page in worklist["pages"].items():
            view = page["view"]
            line = f"{name:<20}{view['p50_ms']:>9.1f}{view['p95_ms']:>8.1f}{view['max_ms']:>8.1f}"
            if "sql" in page:
                sql = page["sql"]
                line += f"{sql['p50_ms']:>9.2f}{sql['p95_ms']:>8.2f}{page['rows_filtered']:>15,}"
            print(line + ("" if page["budgeted"] else "   (baseline: no rows, no query)"))
        for name, page in worklist["pages"].items():
            if "explain" in page:
                print(f"\nEXPLAIN (ANALYZE, BUFFERS), {name}:")
                for line in page["explain"]:
                    print(f"  {line}")
    planning = report.get("planning")
    if planning:
        print(
            f"\nPlanning {planning['encounters']:,} new encounters: {planning['seconds']:.1f} s,"
            f" {planning['created']:,} tasks created {planning['tasks_by_status']};"
            f" again: {planning['again_seconds']:.1f} s, {planning['again_created']} created,"
            f" {planning['again_updated']} updated; in {planning['workers']} worker processes:"
            f" {planning['workers_seconds']:.1f} s, {planning['workers_created']:,} created"
        )
    fanout = report.get("fanout")
    if fanout:
        tick = fanout["tick"]
        print(
            f"\nFan-out: {fanout['messages_sent']} messages sent in {fanout['send_seconds']:.2f} s;"
            f" {fanout['tenants']} ticks in {fanout['ticks_seconds']:.1f} s (median"
            f" {tick['p50_ms']:.1f} ms, p95 {tick['p95_ms']:.1f} ms, max {tick['max_ms']:.1f} ms);"
            f" total {fanout['total_seconds']:.1f} s; work done {fanout['tick_totals']}"
        )
        if skipped := fanout["messages_skipped"]:
            print(f"  {skipped} messages to fan-out tenants past --tenants: skipped")
        for schema, other in fanout["other_tenants"].items():
            passes = "; ".join(
                f"{p['ms']:.0f} ms (released {p['released']}, closed {p['closed']},"
                f" escalated {p['escalated']})"
                for p in other["passes"]
            )
            print(f"  tick of {schema}, rolled back: {passes}")
        if fanout["note"]:
            print(f"  NOTE: {fanout['note']}")
    print("\nBudget")
    width = max(len(line["check"]) for line in report["budget"])
    for line in report["budget"]:
        print(f"  {'PASS' if line['ok'] else 'FAIL'}  {line['check']:<{width}}  {line['value']}")

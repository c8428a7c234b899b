"""Bulk intake through the integration API (issue 6): 100,000 discharges with their contacts
pushed to POST /api/v1/encounters/bulk in calls of 10,000 rows (JSON, key check, the
import's row checks, set-based writes, all through Django), side by side in one run with a
raw COPY of the same rows into two bare tables, and with a COPY of the rows as the intake
writes them straight into a scratch clinic's own tables (what PostgreSQL costs for the
product's indexes and foreign keys, with no reading or checking at all).

Also timed: the same push again (every row unchanged: the idempotent path), planning the
new encounters' follow-ups (what the Celery workers do after the push commits), and a CSV
import of another 100,000 new rows (upload, mapping and the worker's run, in process). With
``--streams N`` (N > 1) another 100,000 new rows are then pushed by N processes at once, each
with its own Django and database connection (as an HIS pushing from N threads to N gunicorn
workers would), and pushed again: reported apart from the single-stream figures."""

import csv
import io
import json
import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django_tenants.utils import tenant_context

from billing import entitlements
from billing.models import BillingAccount, Plan
from saas.memory import freeze_loaded
from tenants.models import Tenant
from tenants.services import public_tenant_ensure, tenant_provision

SLUG = "bench-api"
BATCH = 10_000


def _rows(n: int, day: datetime, start: int = 0) -> list[dict]:
    departments = ["orthopaedics", "cardiology", "obstetrics", "general-surgery", ""]
    return [
        {
            "external_id": f"ZY{i:08d}",
            "name": f"患者{i}",
            "record_no": f"MRN{i:08d}",
            "sex": "男" if i % 2 else "女",
            "age": str(20 + i % 70),
            "phone": f"13{i % 10}{i:08d}"[-11:],
            "department": departments[i % len(departments)],
            "occurred_at": (day - timedelta(minutes=i % 600)).strftime("%Y-%m-%d %H:%M"),
            "diagnosis": "股骨颈骨折" if i % 3 else "肺炎",
            "discharge_outcome": "好转" if i % 4 else "治愈",
        }
        for i in range(start, start + n)
    ]


def _tenant() -> Tenant:
    tenant = Tenant.objects.filter(schema_name=SLUG).first()
    if tenant is not None:
        tenant.delete(force_drop=True)
    tenant_provision(name="Bench API 医院", slug=SLUG, kind="hospital", admin_email="a@bench.test")
    tenant = Tenant.objects.get(schema_name=SLUG)
    # A large hospital's plan: no monthly cap on new encounters.
    BillingAccount.objects.update_or_create(
        tenant=tenant, defaults={"plan": Plan.objects.get(code="enterprise")}
    )
    return tenant


def _copy(rows: list[dict]) -> float:
    """Seconds to COPY the rows into bare contact and encounter tables (no checks, no
    indexes but the primary keys)."""
    contacts, encounters = io.StringIO(), io.StringIO()
    c, e = csv.writer(contacts), csv.writer(encounters)
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS bench_raw CASCADE; CREATE SCHEMA bench_raw")
        cursor.execute(
            "CREATE TABLE bench_raw.contact (id bigserial PRIMARY KEY, name text, record_no text,"
            " sex text, phone text);"
            "CREATE TABLE bench_raw.encounter (id bigserial PRIMARY KEY, external_id text,"
            " record_no text, age int, department text, occurred_at timestamptz,"
            " diagnosis text, outcome text)"
        )
    start = time.perf_counter()
    for r in rows:
        c.writerow([r["name"], r["record_no"], r["sex"], r["phone"]])
        e.writerow(
            [r["external_id"], r["record_no"], r["age"], r["department"], r["occurred_at"],
             r["diagnosis"], r["discharge_outcome"]]
        )  # fmt: skip
    contacts.seek(0)
    encounters.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            "COPY bench_raw.contact (name, record_no, sex, phone) FROM STDIN WITH CSV", contacts
        )
        cursor.cursor.copy_expert(
            "COPY bench_raw.encounter (external_id, record_no, age, department, occurred_at,"
            " diagnosis, outcome) FROM STDIN WITH CSV",
            encounters,
        )
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA bench_raw CASCADE")
    return seconds


def _copy_into_tenant(rows: list[dict], now: datetime) -> float:
    """Seconds to COPY the same rows, as the intake would write them (ids drawn, phones in
    E.164, department ids, outcome codes, names, numbers and diagnoses encrypted with their
    blind indexes) but without reading or checking anything, straight
    into a scratch clinic's own contact, phone and encounter tables: the indexes, foreign
    keys and triggers the product needs, at PostgreSQL's own speed."""
    slug = f"{SLUG}-floor"
    stale = Tenant.objects.filter(schema_name=slug).first()
    if stale is not None:
        stale.delete(force_drop=True)
    tenant_provision(name="Bench floor", slug=slug, kind="hospital", admin_email="f@bench.test")
    tenant = Tenant.objects.get(schema_name=slug)
    with tenant_context(tenant):
        from crm import crypto
        from crm.models import Department

        departments = dict(Department.objects.values_list("code", "pk"))
        contacts, phones, encounters = io.StringIO(), io.StringIO(), io.StringIO()
        c, p, e = csv.writer(contacts), csv.writer(phones), csv.writer(encounters)
        outcomes = {"好转": "improved", "治愈": "cured"}
        start = time.perf_counter()
        keys = crypto.ring()
        for i, r in enumerate(rows, 1):
            c.writerow(
                [i, crypto.encrypt(r["name"], keys), crypto.blind_name(r["name"], keys),
                 "M" if r["sex"] == "男" else "F", r["record_no"], "", "", "",
                 False, "", False, "", now, now]
            )  # fmt: skip
            number = "+86" + r["phone"]
            p.writerow(
                [i, crypto.encrypt(number, keys), crypto.blind_phone(number, keys),
                 crypto.blind_tail(number, keys), "mobile", 0, False]
            )  # fmt: skip
            e.writerow(
                [i, i, "his", r["external_id"], "discharge", departments.get(r["department"]),
                 "", r["occurred_at"], "", r["age"], "", crypto.encrypt(r["diagnosis"], keys),
                 "", "", "",
                 outcomes[r["discharge_outcome"]], "", "{}", "", now, now]
            )  # fmt: skip
        for buffer in (contacts, phones, encounters):
            buffer.seek(0)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                "COPY crm_contact (id, name, name_index, sex, record_no, email, address, language,"
                " do_not_contact, do_not_contact_reason, deceased, notes, created_at, updated_at)"
                " FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (email, address, language,"
                " do_not_contact_reason, notes))",
                contacts,
            )
            cursor.cursor.copy_expert(
                "COPY crm_contactphone (contact_id, number, number_index, tail_index, label,"
                " position, invalid) FROM STDIN WITH CSV",
                phones,
            )
            cursor.cursor.copy_expert(
                "COPY crm_encounter (id, contact_id, source, external_id, kind, department_id,"
                " attending_name, occurred_at, serial_no, age, diagnosis_code, diagnosis,"
                " procedure_code, procedure, treatment_course, discharge_outcome, bed, tags,"
                " notes, created_at, updated_at) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL"
                " (attending_name, serial_no, diagnosis_code, procedure_code, procedure,"
                " treatment_course, bed, notes))",
                encounters,
            )
        seconds = time.perf_counter() - start
    connection.set_schema_to_public()
    tenant.delete(force_drop=True)
    return seconds


def _import(tenant: Tenant, rows: list[dict]) -> tuple[float, dict]:
    """Seconds for the CSV import of the rows as a clinic administrator makes it: the upload,
    the mapping, then what the Celery worker runs (here in this process)."""
    from django.contrib.auth import get_user_model

    from crm.services.import_jobs import import_map, import_run, import_upload

    keys = list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    writer.writerows([r[k] for k in keys] for r in rows)
    content = out.getvalue().encode()
    with tenant_context(tenant):
        admin = get_user_model().objects.get(email="a@bench.test")
        start = time.perf_counter()
        job = import_upload(filename="discharges.csv", content=content, user=admin)
        import_map(job, {key: key for key in keys})
        job = import_run(job.pk)
        seconds = time.perf_counter() - start
    connection.set_schema_to_public()
    counts = {
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "rejected": len(job.errors),
    }
    return seconds, counts


def _bodies(rows: list[dict]) -> list[bytes]:
    """The calls' JSON bodies, made before the clock starts: the HIS encodes them on its own
    machine, not on the server's cores."""
    return [
        json.dumps({"source": "his", "rows": rows[at : at + BATCH]}, ensure_ascii=False).encode()
        for at in range(0, len(rows), BATCH)
    ]


def _push(client: Client, key: str, bodies: list[bytes]) -> tuple[float, dict]:
    totals = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    start = time.perf_counter()
    for body in bodies:
        response = client.post(
            "/api/v1/encounters/bulk",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.content[:500]
        result = response.json()
        for name in totals:
            totals[name] += result[name]
    return time.perf_counter() - start, totals


# The bodies of a parallel push, set before the processes fork (not pickled to them).
_BODIES: list[bytes] = []


def _push_bodies(host: str, key: str, numbers: list[int]) -> dict:
    client = Client(HTTP_HOST=host)
    return _push(client, key, [_BODIES[i] for i in numbers])[1]


def _push_parallel(host: str, key: str, bodies: list[bytes], streams: int) -> tuple[float, dict]:
    """The calls spread over ``streams`` processes, all at once."""
    _BODIES[:] = bodies
    connection.close()  # each process opens its own
    numbers = [list(range(len(bodies)))[s::streams] for s in range(streams)]
    with multiprocessing.get_context("fork").Pool(streams) as pool:
        start = time.perf_counter()
        parts = pool.starmap(_push_bodies, [(host, key, part) for part in numbers])
        seconds = time.perf_counter() - start
    totals = {name: sum(part[name] for part in parts) for name in parts[0]}
    return seconds, totals


def run(*, n: int, streams: int, json_path: Path) -> None:
    call_command("migrate", verbosity=0)
    public_tenant_ensure()
    tenant = _tenant()
    with tenant_context(tenant):
        from crm.models import Encounter, FollowUpTask
        from crm.services.api_keys import api_key_create
        from crm.services.planning import encounters_plan

        limit = entitlements.limit_of(entitlements.plan_of(tenant), "encounters")
        if limit is not None and limit < n:
            raise SystemExit(f"The tenant's plan allows {limit} new encounters a month; need {n}.")
        _api_key, key = api_key_create(name="bench", scopes=["write"])
    connection.set_schema_to_public()
    rows = _rows(n, datetime.now(UTC) - timedelta(days=1))
    copy_s = _copy(rows)
    floor_s = _copy_into_tenant(rows, datetime.now(UTC))
    bodies = _bodies(rows)
    # As saas.wsgi does once the application is loaded.
    freeze_loaded()
    client = Client(HTTP_HOST=tenant.primary_host)
    api_s, first = _push(client, key, bodies)
    again_s, second = _push(client, key, bodies)
    with tenant_context(tenant):
        ids = list(Encounter.objects.values_list("pk", flat=True))
        start = time.perf_counter()
        for at in range(0, len(ids), 10_000):
            encounters_plan(ids[at : at + 10_000])
        plan_s = time.perf_counter() - start
        tasks = FollowUpTask.objects.count()
    connection.set_schema_to_public()
    parallel = {}
    if streams > 1:
        more = _bodies(_rows(n, datetime.now(UTC) - timedelta(days=1), start=n))
        seconds, counts = _push_parallel(tenant.primary_host, key, more, streams)
        parallel["api_parallel_first_push"] = {"seconds": seconds, "rows_per_s": n / seconds,
                                               **counts}  # fmt: skip
        seconds, counts = _push_parallel(tenant.primary_host, key, more, streams)
        parallel["api_parallel_same_push_again"] = {"seconds": seconds, "rows_per_s": n / seconds,
                                                    **counts}  # fmt: skip
    import_s, imported = _import(tenant, _rows(n, datetime.now(UTC) - timedelta(days=1), 2 * n))
    tenant.delete(force_drop=True)

    figures = {
        "copy": {"seconds": copy_s, "rows_per_s": n / copy_s},
        "copy_into_product_tables": {"seconds": floor_s, "rows_per_s": n / floor_s},
        "api_first_push": {"seconds": api_s, "rows_per_s": n / api_s, **first},
        "api_same_push_again": {"seconds": again_s, "rows_per_s": n / again_s, **second},
        "planning": {"seconds": plan_s, "encounters_per_s": n / plan_s, "tasks": tasks},
        "csv_import": {"seconds": import_s, "rows_per_s": n / import_s, **imported},
        **parallel,
    }
    ratio = figures["api_first_push"]["rows_per_s"] / figures["copy"]["rows_per_s"]
    print(f"\nBulk intake, {n} encounters with their contacts, calls of {BATCH} rows")
    print(f"{'path':<28} {'seconds':>8} {'rows/s':>10}  counts")
    print(f"{'raw COPY (2 tables)':<28} {copy_s:>8.2f} {n / copy_s:>10.0f}")
    print(f"{'COPY into product tables':<28} {floor_s:>8.2f} {n / floor_s:>10.0f}")
    for name in ("api_first_push", "api_same_push_again", *parallel, "csv_import"):
        row = figures[name]
        counts = ", ".join(f"{k} {row[k]}" for k in ("created", "updated", "unchanged", "rejected"))
        print(f"{name:<28} {row['seconds']:>8.2f} {row['rows_per_s']:>10.0f}  {counts}")
    print(f"{'planning (in process)':<28} {plan_s:>8.2f} {n / plan_s:>10.0f}  tasks {tasks}")
    print(f"API / COPY throughput: {ratio:.0%} (budget ≥ 40 %, and ≥ 20,000 rows/s)")
    print(f"COPY into product tables / raw COPY: {floor_s and copy_s / floor_s:.0%}")
    print(f"API / COPY into product tables: {floor_s / api_s:.0%}")
    if parallel:
        both = parallel["api_parallel_first_push"]["rows_per_s"] / figures["copy"]["rows_per_s"]
        print(f"{streams} streams / COPY throughput: {both:.0%}")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 shared cores)")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(
            {
                "suite": "api",
                "at": datetime.now(UTC).isoformat(),
                "rows": n,
                "batch": BATCH,
                "streams": streams,
                "figures": figures,
                "api_over_copy": ratio,
                "api_over_copy_into_product_tables": floor_s / api_s,
                "load_average": load,
            },
            indent=2,
        )
    )
    print(f"JSON: {json_path}")

"""Provisioning a tenant (schema + preset + first admin) three ways, in one run:

* migrations - CREATE SCHEMA and run every tenant migration (the baseline);
* clone      - copy the migrated template schema by replaying its stored DDL (tenants.ddl);
* pool       - rename a schema copied ahead of time (the pool is refilled untimed).

Then two series of new clinics back to back, each kept while the next is made so that the
catalog grows: by replay (the product's path) and, side by side, by django-tenants' old
clone_schema() SQL function (installed here, for the comparison only). The budget figure is
the median of the last 10 of each series. Each figure times the whole tenant_provision()."""

import json
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from django.core.management import call_command
from django.db import connection
from django_tenants.clone import CloneSchema

from tenants import schemas
from tenants.models import Domain, Tenant
from tenants.services import public_tenant_ensure, tenant_provision

KINDS = ("hospital", "aesthetic", "dental", "service")
BUDGET_CLONE_MS = 1000
BUDGET_RATIO = 10
BUDGET_POOL_MS = 150


def _provision(slug: str, index: int, **options) -> tuple[float, str]:
    started = time.perf_counter()
    result = tenant_provision(
        name=f"Bench {index}",
        slug=slug,
        kind=KINDS[index % len(KINDS)],
        admin_email=f"admin{index}@bench.test",
        **options,
    )
    return (time.perf_counter() - started) * 1000, result.method


def _clone_schema_from_template(target: str) -> bool:
    """The copy of earlier releases: django-tenants' clone_schema(), per table at every call."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clone_schema(%s, %s, 'DATA')", [schemas.template_name(), target])
    return True


def _series(prefix: str, count: int, run_id: str, made: list[str]) -> list[float]:
    timings = []
    for index, slug in enumerate(_slugs(prefix, count, run_id)):
        elapsed, _method = _provision(slug, index, use_pool=False)
        made.append(slug)
        timings.append(elapsed)
        print(f"  series {prefix} {index + 1:>4}/{count}: {elapsed:.1f} ms", flush=True)
    return timings


def _slugs(prefix: str, count: int, run_id: str) -> list[str]:
    return [f"bench-{prefix}-{run_id}-{i}" for i in range(count)]


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(values),
        "median_ms": statistics.median(values),
        "p90_ms": ordered[max(0, round(0.9 * len(ordered)) - 1)],
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
    }


def _cleanup(slugs: list[str]) -> None:
    connection.set_schema_to_public()
    for slug in slugs:
        schemas.schema_drop(slug)
    Domain.objects.filter(tenant__schema_name__in=slugs).delete()
    Tenant.objects.filter(schema_name__in=slugs).delete()
    if slugs:
        # Dropping many schemas leaves the system catalogs bloated, which slows every clone
        # after it until autovacuum catches up: start each phase from a clean catalog.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def run(*, n: int, series: int, json_path: Path, series_old: int | None = None) -> dict:
    call_command("migrate", verbosity=0)  # also brings the template schema up to date
    public_tenant_ensure()
    # Leftovers of an interrupted run would only add catalog weight to this one.
    _cleanup(
        list(
            Tenant.objects.filter(schema_name__startswith="bench-").values_list(
                "schema_name", flat=True
            )
        )
    )
    schemas.migration_fingerprint()  # computed once per process; not part of any figure
    run_id = uuid.uuid4().hex[:6]
    made: list[str] = []
    timings: dict[str, list[float]] = {"migrations": [], "clone": [], "pool": []}
    try:
        for method, slugs in (
            ("migrations", _slugs("m", n, run_id)),
            ("clone", _slugs("c", n, run_id)),
            ("pool", _slugs("p", n, run_id)),
        ):
            for index, slug in enumerate(slugs):
                if method == "pool":
                    schemas.pool_refill(1)
                options = {
                    "migrations": {"use_pool": False, "use_template": False},
                    "clone": {"use_pool": False},
                    "pool": {"use_pool": True},
                }[method]
                elapsed, used = _provision(slug, index, **options)
                made.append(slug)
                assert used == method, f"expected {method}, got {used}"
                timings[method].append(elapsed)
                print(f"  {method:<10} {slug:<32} {elapsed:8.1f} ms", flush=True)
        _cleanup(made)
        made = []

        series_ms = _series("s", series, run_id, made)
        _cleanup(made)
        made = []

        CloneSchema()._create_clone_schema_function()
        with mock.patch.object(schemas, "schema_create_from_template", _clone_schema_from_template):
            old_series_ms = _series("o", series if series_old is None else series_old, run_id, made)
    finally:
        _cleanup(made)

    report = _report(timings, series_ms, old_series_ms)
    _print(report)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    print(f"\nJSON written to {json_path}")
    return report


def _series_summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "median_ms": statistics.median(values),
        "first10_median_ms": statistics.median(values[:10]),
        "last10_median_ms": statistics.median(values[-10:]),
        "raw_ms": values,
    }


def _report(
    timings: dict[str, list[float]], series_ms: list[float], old_series_ms: list[float]
) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0]
    summary = {method: _summary(values) for method, values in timings.items()}
    ratio = summary["migrations"]["median_ms"] / summary["clone"]["median_ms"]
    replay, old = _series_summary(series_ms), _series_summary(old_series_ms)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": server,
            "load_average": os.getloadavg(),
        },
        "methods": summary,
        "raw_ms": timings,
        "migrations_over_clone": ratio,
        "series": replay,
        "series_clone_schema": old,
        "budget": {
            "clone_last10_median_le_1000ms": replay["last10_median_ms"] <= BUDGET_CLONE_MS,
            "ratio_ge_10": ratio >= BUDGET_RATIO,
            "pool_median_le_150ms": summary["pool"]["median_ms"] <= BUDGET_POOL_MS,
        },
    }


def _print(report: dict) -> None:
    print(f"\n{'method':<12}{'n':>4}{'median':>10}{'p90':>10}{'min':>10}{'max':>10}   (ms)")
    for method, row in report["methods"].items():
        print(
            f"{method:<12}{row['n']:>4}{row['median_ms']:>10.1f}{row['p90_ms']:>10.1f}"
            f"{row['min_ms']:>10.1f}{row['max_ms']:>10.1f}"
        )
    print(f"\nmigrations / clone (medians): {report['migrations_over_clone']:.1f}x")
    print(f"\n{'series':<28}{'n':>5}{'median':>10}{'first 10':>10}{'last 10':>10}   (ms)")
    for label, key in (
        ("replay (tenants.ddl)", "series"),
        ("clone_schema()", "series_clone_schema"),
    ):
        row = report[key]
        print(
            f"{label:<28}{row['n']:>5}{row['median_ms']:>10.1f}{row['first10_median_ms']:>10.1f}"
            f"{row['last10_median_ms']:>10.1f}"
        )
    budget = report["budget"]
    for label, ok in (
        (
            f"clone (replay) last-10 median <= {BUDGET_CLONE_MS} ms",
            budget["clone_last10_median_le_1000ms"],
        ),
        (f"migrations >= {BUDGET_RATIO}x clone", budget["ratio_ge_10"]),
        (f"pool median <= {BUDGET_POOL_MS} ms", budget["pool_median_le_150ms"]),
    ):
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")

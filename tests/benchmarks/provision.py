"""Provisioning a tenant (schema + preset + first admin) three ways, in one run:

* migrations - CREATE SCHEMA and run every tenant migration (the baseline);
* clone      - copy the migrated template schema with django-tenants' clone_schema();
* pool       - rename a schema cloned ahead of time (the pool is refilled untimed).

Then a series of clones back to back, to show that the hundredth is no slower than the
first. Each figure times the whole tenant_provision() call."""

import json
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.core.management import call_command
from django.db import connection

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


def run(*, n: int, series: int, json_path: Path) -> dict:
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

        series_ms = []
        for index, slug in enumerate(_slugs("s", series, run_id)):
            elapsed, _method = _provision(slug, index, use_pool=False)
            made.append(slug)
            series_ms.append(elapsed)
            if index % 10 == 9:
                print(f"  series {index + 1:>4}/{series}: {elapsed:.1f} ms", flush=True)
    finally:
        _cleanup(made)

    report = _report(timings, series_ms)
    _print(report)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    print(f"\nJSON written to {json_path}")
    return report


def _report(timings: dict[str, list[float]], series_ms: list[float]) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0]
    summary = {method: _summary(values) for method, values in timings.items()}
    ratio = summary["migrations"]["median_ms"] / summary["clone"]["median_ms"]
    first, last = series_ms[:10], series_ms[-10:]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": server,
        },
        "methods": summary,
        "raw_ms": timings,
        "migrations_over_clone": ratio,
        "series": {
            "n": len(series_ms),
            "median_ms": statistics.median(series_ms),
            "first10_median_ms": statistics.median(first),
            "last10_median_ms": statistics.median(last),
            "raw_ms": series_ms,
        },
        "budget": {
            "clone_median_le_1000ms": summary["clone"]["median_ms"] <= BUDGET_CLONE_MS,
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
    series = report["series"]
    print(f"\nmigrations / clone (medians): {report['migrations_over_clone']:.1f}x")
    print(f"clone median over the whole series of {series['n']}: {series['median_ms']:.1f} ms")
    print(
        f"{series['n']} clones back to back: first-10 median {series['first10_median_ms']:.1f} ms,"
        f" last-10 median {series['last10_median_ms']:.1f} ms"
    )
    budget = report["budget"]
    for label, ok in (
        (f"clone median <= {BUDGET_CLONE_MS} ms", budget["clone_median_le_1000ms"]),
        (f"migrations >= {BUDGET_RATIO}x clone", budget["ratio_ge_10"]),
        (f"pool median <= {BUDGET_POOL_MS} ms (stretch)", budget["pool_median_le_150ms"]),
    ):
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")

"""A published article served to anonymous patients by a real server (issue 7).

gunicorn serves the product (settings as `./dev run`, DEBUG off); the load comes from a
second process on loopback (tests.benchmarks.loadgen, asyncio, closed loop). Side by side in
one run:

* cached   - the article as patients get it: the per-tenant page cache answers;
* uncached - the same article with a query string, which the cache skips: Wagtail routes and
             renders it every time (the baseline);
* other    - the same path on a second tenant, cached, checked to be that tenant's own page.

Budget: cached >= 300 requests/s with p95 <= 50 ms."""

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.models import Tenant
from tenants.services import public_tenant_ensure, tenant_provision

ROOT = Path(__file__).resolve().parents[2]
TENANTS = [("bench-cms-a", "基准医美诊所 A"), ("bench-cms-b", "基准医美诊所 B")]
SLUG = "bench-post-op-care"
BUDGET_RPS = 300
BUDGET_P95_MS = 50


def _article_body() -> list[dict]:
    from cms.starter import ARTICLES

    blocks = []
    for item in ARTICLES[:4]:
        _title, _summary, paragraphs, warning_title, warning_items = item["zh-hans"]
        blocks += [{"type": "paragraph", "value": f"<h2>{_title}</h2>"}]
        blocks += [{"type": "paragraph", "value": f"<p>{p}</p>"} for p in paragraphs]
        items = "".join(f"<li>{w}</li>" for w in warning_items)
        blocks.append(
            {"type": "callout", "value": {"title": warning_title, "text": f"<ul>{items}</ul>"}}
        )
    return blocks


def _tenant_ready(slug: str, name: str) -> Tenant:
    from cms.models import ArticleIndexPage, ArticlePage, HomePage

    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=slug).first()
    if tenant is None:
        tenant = tenant_provision(
            name=name, slug=slug, kind="aesthetic", admin_email=f"admin@{slug}.test"
        ).tenant
    with tenant_context(tenant):
        index = ArticleIndexPage.objects.child_of(HomePage.objects.get(depth=2)).get()
        article = ArticlePage.objects.filter(slug=SLUG).first()
        if article is None:
            article = index.add_child(
                instance=ArticlePage(
                    title=f"{name}：双眼皮术后护理要点",
                    slug=SLUG,
                    summary="术后 7 天内的伤口护理、冷敷、饮食与复诊提醒。",
                    body=_article_body(),
                    procedures=["双眼皮"],
                )
            )
        article.save_revision().publish()  # also retires the tenant's cached pages
    connection.set_schema_to_public()
    return tenant


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, host: str, path: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _server_start(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.local",
        "DEBUG": "0",
        "TENANT_URL_PORT": str(port),
    }
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "saas.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--log-level", "warning", "--max-requests", "0",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def _load(port: int, host: str, path: str, *, concurrency: int, seconds: float) -> dict:
    before = os.getloadavg()
    result = subprocess.run(
        [
            sys.executable, "-m", "tests.benchmarks.loadgen", "--port", str(port),
            "--host", host, "--path", path, "--concurrency", str(concurrency),
            "--seconds", str(seconds), "--warmup", "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
    report["loadavg_before"] = before
    report["loadavg_after"] = os.getloadavg()
    return report


def run(*, seconds: float, concurrency: int, workers: int, json_path: Path) -> dict:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    public_tenant_ensure()
    tenants = [_tenant_ready(slug, name) for slug, name in TENANTS]
    hosts = [t.primary_host for t in tenants]
    path = f"/health/articles/{SLUG}/"

    port = _free_port()
    server = _server_start(port, workers)
    try:
        # Correctness first: each tenant gets its own article, the cache answers the second
        # request, and nothing is served across tenants.
        for tenant, host in zip(tenants, hosts, strict=True):
            for _ in range(2):
                status, body = _get(port, host, path)
                assert status == 200, (host, status)
                assert tenant.name in body, f"{host} did not get its own article"
                other = [t for t in tenants if t != tenant][0]
                assert other.name not in body, f"{host} got {other.name}'s page"
        results = {
            "cached": _load(port, hosts[0], path, concurrency=concurrency, seconds=seconds),
            "uncached": _load(
                port, hosts[0], path + "?nocache=1", concurrency=concurrency, seconds=seconds
            ),
            "other tenant, cached": _load(
                port, hosts[1], path, concurrency=concurrency, seconds=seconds
            ),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server_version = cursor.fetchone()[0]
    cached = results["cached"]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": server_version,
            "cache": settings.CACHES["default"]["BACKEND"],
            "gunicorn_workers": workers,
        },
        "path": path,
        "results": results,
        "budget": {
            "rps_ge_300": cached["requests_per_s"] >= BUDGET_RPS,
            "p95_le_50ms": cached["p95_ms"] is not None and cached["p95_ms"] <= BUDGET_P95_MS,
            "no_errors": all(r["errors"] == 0 for r in results.values())
            and all(set(r["statuses"]) == {"200"} for r in results.values()),
        },
    }
    _print(report)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    print(f"\nJSON written to {json_path}")
    return report


def _print(report: dict) -> None:
    print(
        f"\n{'scenario':<22}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'errors':>8}"
        f"   load avg before → after (ms)"
    )
    for name, row in report["results"].items():
        before = ", ".join(f"{x:.2f}" for x in row["loadavg_before"])
        after = ", ".join(f"{x:.2f}" for x in row["loadavg_after"])
        print(
            f"{name:<22}{row['requests_per_s']:>9.0f}{row['p50_ms']:>8.1f}{row['p95_ms']:>8.1f}"
            f"{row['p99_ms']:>8.1f}{row['errors']:>8}   {before} → {after}"
        )
    cached, uncached = report["results"]["cached"], report["results"]["uncached"]
    print(f"\ncached / uncached: {cached['requests_per_s'] / uncached['requests_per_s']:.1f}x")
    budget = report["budget"]
    for label, ok in (
        (f"cached >= {BUDGET_RPS} requests/s", budget["rps_ge_300"]),
        (f"cached p95 <= {BUDGET_P95_MS} ms", budget["p95_le_50ms"]),
        ("every response 200, no errors", budget["no_errors"]),
    ):
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")

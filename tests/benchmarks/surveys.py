"""Issue 4's budgets, in one run:

(a) the patient's survey page, served by gunicorn, under load from this (second) process on
    loopback: 50 concurrent patients, each opening a fresh link, answering, submitting, with a
    think time between steps; p95 ≤ 150 ms for the page and for the submission, no error. The
    same load without think time follows, for the server's saturation throughput (not
    budgeted).
(b) the outbox: 10,000 queued SMS sent by a real Celery worker (4 processes, Redis broker)
    through a local Twilio-compatible fake provider over HTTP ≤ 60 s, then every message sent
    again as a redelivered task would: no SMS may reach a phone twice.
"""

import asyncio
import json
import math
import os
import platform
import random
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Count, F
from django_tenants.utils import tenant_context

from crm.models import Contact, Message, MessageTemplate, SmsAccount
from crm.models.messages import Channel, Purpose
from crm.services import sms_accounts
from surveys.links import invitation_create
from surveys.models import SurveyInvitation, SurveyResponse, SurveyTemplate
from tests.benchmarks.followup import _database_prepare, _tenant
from tests.fake_aliyun import FakeAliyun
from tests.fake_sms import FakeSms
from tests.fake_tencent import FakeTencent

SLUG = "bench-surveys"
ROOT = Path(__file__).resolve().parents[2]


def _summary(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": ordered[len(ordered) // 2],
        "p95_ms": ordered[math.ceil(0.95 * len(ordered)) - 1],
        "max_ms": ordered[-1],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- (a) The survey page under load ----------------------------------------------------------


def _links(tenant, count: int) -> list[str]:
    """``count`` fresh links of the hospital preset's inpatient survey (10 questions)."""
    with tenant_context(tenant):
        template = SurveyTemplate.objects.filter(published__isnull=False).order_by("pk").first()
        SurveyResponse.objects.all().delete()
        SurveyInvitation.objects.all().delete()
        Contact.objects.filter(record_no__startswith="bench-").delete()
        contacts = Contact.objects.bulk_create(
            Contact(name=f"bench {i}", record_no=f"bench-{i}", language="zh-hans")
            for i in range(count)
        )
        tokens = [invitation_create(template, contact)[1] for contact in contacts]
        questions = template.published.questions
    return tokens, questions


def _answers(questions: list[dict], csrf: str) -> bytes:
    from urllib.parse import urlencode

    data = {"csrfmiddlewaretoken": csrf}
    for question in questions:
        if question["kind"] == "rating":
            data[f"q_{question['key']}"] = "5"
        elif question["kind"] == "nps":
            data[f"q_{question['key']}"] = "9"
        elif question["kind"] == "text":
            data[f"q_{question['key']}"] = "很好"
    return urlencode(data).encode()


async def _http(port: int, host: str, method: str, path: str, *, cookie="", body=b"") -> tuple:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    if cookie:
        head.append(f"Cookie: {cookie}")
    if body:
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    header, _sep, content = raw.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    return status, header.decode("latin-1"), content


CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")


async def _patient(port, host, tokens, questions, think, until, samples, errors):
    # Patients arrive spread over the first think time, not all in the same millisecond: a
    # burst of 50 simultaneous first requests measures the start, not the load.
    await asyncio.sleep(random.uniform(0, think))
    while time.perf_counter() < until and tokens:
        token = tokens.pop()
        started = time.perf_counter()
        try:
            status, header, content = await _http(port, host, "GET", f"/s/{token}/")
            samples["page"].append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors.append(f"page {status}")
                continue
            csrf = CSRF_INPUT.search(content).group(1).decode()
            cookie = "csrftoken=" + CSRF_COOKIE.search(header).group(1)
            await asyncio.sleep(think)
            started = time.perf_counter()
            status, _header, _content = await _http(
                port, host, "POST", f"/s/{token}/", cookie=cookie, body=_answers(questions, csrf)
            )
            samples["submit"].append((time.perf_counter() - started) * 1000)
            if status != 302:
                errors.append(f"submit {status}")
        except (OSError, AttributeError, ValueError, IndexError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(think)


async def _load(port, host, tokens, questions, *, users, think, seconds):
    samples = {"page": [], "submit": []}
    errors: list[str] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _patient(port, host, tokens, questions, think, until, samples, errors)
            for _ in range(users)
        )
    )
    elapsed = time.perf_counter() - started
    total = len(samples["page"]) + len(samples["submit"])
    return {
        "users": users,
        "think_seconds": think,
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "page": _summary(samples["page"]),
        "submit": _summary(samples["submit"]),
        "errors": len(errors),
        "first_errors": errors[:5],
    }


def _gunicorn(port: int, workers: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "saas.wsgi:application",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def page_measure(tenant, *, users: int, seconds: int, workers: int) -> dict:
    host = tenant.primary_host
    port = _free_port()
    with tenant_context(tenant):
        Contact.objects.filter(record_no__startswith="bench-").delete()
    # Enough fresh links for the closed-loop run (no think time) too.
    tokens, questions = _links(tenant, 12_000)
    print(f"{len(tokens):,} links ready; gunicorn with {workers} workers on :{port}", flush=True)
    server = _gunicorn(port, workers)
    try:
        # Warm-up: every gunicorn worker imports, compiles its templates and connects.
        asyncio.run(_load(port, host, tokens, questions, users=10, think=0, seconds=8))
        print(f"{users} patients, 1 s think time, {seconds} s ...", flush=True)
        budgeted = asyncio.run(
            _load(port, host, tokens, questions, users=users, think=1.0, seconds=seconds)
        )
        budgeted["load_average"] = os.getloadavg()
        print(f"{users} patients, no think time (saturation), {seconds} s ...", flush=True)
        saturated = asyncio.run(
            _load(port, host, tokens, questions, users=users, think=0, seconds=seconds)
        )
        saturated["load_average"] = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
    with tenant_context(tenant):
        responses = SurveyResponse.objects.count()
        doubles = (
            SurveyResponse.objects.values("invitation")
            .order_by()
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
    return {
        "workers": workers,
        "questions": len(questions),
        "with_think_time": budgeted,
        "saturation": saturated,
        "responses_saved": responses,
        "invitations_answered_twice": doubles,
    }


# --- (b) The outbox --------------------------------------------------------------------------


def _worker(env: dict, concurrency: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "saas",
            "worker",
            "-c",
            str(concurrency),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


PROVIDERS = ("twilio", "aliyun", "tencent")
BENCH_CODES = {"aliyun": "SMS_900001", "tencent": "9001"}


def _provider_fake(provider: str):
    """The provider's fake on 127.0.0.1, and the environment that points a worker at it."""
    if provider == "twilio":
        fake = FakeSms()
        return fake, {
            "SMS_API_BASE": fake.base,
            "SMS_ACCOUNT_SID": fake.account_sid,
            "SMS_AUTH_TOKEN": fake.auth_token,
            "SMS_FROM": "+8610690000",
        }
    if provider == "aliyun":
        fake = FakeAliyun(key_secret="bench-secret", sign_name="随访中心")
        fake.templates[BENCH_CODES["aliyun"]] = ("第${n}条回访提醒", True)
    else:
        fake = FakeTencent()
        fake.signs.add("随访中心")
        fake.templates[BENCH_CODES["tencent"]] = ("第{1}条回访提醒", True)
    settings.SMS_ENDPOINTS = {**settings.SMS_ENDPOINTS, provider: fake.base}
    return fake, {"SMS_API_BASE": "", f"SMS_ENDPOINT_{provider.upper()}": fake.base}


def _clinic_provider(provider: str, fake) -> None:
    """The clinic's own account at a template provider, with the follow-up text mapped to the
    fake's approved template (checked against it, as on the Messages page)."""
    SmsAccount.objects.all().delete()
    MessageTemplate.objects.filter(channel=Channel.SMS).delete()
    if provider == "twilio":
        return
    key_id, secret = (
        (fake.key_id, "bench-secret") if provider == "aliyun" else (fake.secret_id, fake.secret_key)
    )
    sms_accounts.sms_account_save(
        actor=None,
        provider=provider,
        key_id=key_id,
        key_secret=secret,
        app_id="" if provider == "aliyun" else fake.app_id,
        sign_name="随访中心",
    )
    template = MessageTemplate.objects.create(
        purpose=Purpose.FOLLOW_UP, channel=Channel.SMS, language="zh-hans", body="…"
    )
    variable = "n" if provider == "aliyun" else "1"
    sms_accounts.message_template_map(
        actor=None,
        template=template,
        code=BENCH_CODES[provider],
        params={variable: "follow_up_name"},
    )


def _reached(provider: str, fake) -> tuple[int, list[str]]:
    """How many messages reached a phone, and the key each carried."""
    if provider == "twilio":
        return len(fake.sent), [item["token"] for item in fake.sent]
    if provider == "aliyun":
        return len(fake.sent), [item["OutId"] for item in fake.sent]
    return len(fake.sent), [item["SessionContext"] for item in fake.sent]


def outbox_measure(tenant, *, count: int, concurrency: int, provider: str = "twilio") -> dict:
    from billing.models import BillingAccount, Plan, UsageMeter
    from crm.services.outbox import BATCH
    from crm.tasks import messages_send_task
    from saas.celery import app

    # The largest SMS allowance, this month's meter at zero: the plan must not hold messages.
    plan = Plan.objects.order_by(F("sms_per_month").desc(nulls_first=True)).first()
    BillingAccount.objects.update_or_create(tenant=tenant, defaults={"plan": plan, "comped": True})
    UsageMeter.objects.filter(tenant=tenant).delete()
    fake, provider_env = _provider_fake(provider)
    env = {**os.environ, **provider_env}
    with tenant_context(tenant):
        _clinic_provider(provider, fake)
        Message.objects.all().delete()
        now = datetime.now(UTC)
        messages = Message.objects.bulk_create(
            Message(
                channel=Channel.SMS,
                purpose=Purpose.FOLLOW_UP,
                to=f"+86138{i:08d}",
                body=f"【Bench】第 {i} 条回访短信",
                variables=json.dumps({"follow_up_name": str(i % 1000)}),
                language="zh-hans",
                send_after=now,
            )
            for i in range(count)
        )
        ids = [m.pk for m in messages]
    app.control.purge()
    worker = _worker(env, concurrency)
    try:
        time.sleep(3)  # the worker's processes start
        print(
            f"Sending {count:,} messages through {provider} with {concurrency} worker "
            "processes ...",
            flush=True,
        )
        started = time.perf_counter()
        with tenant_context(tenant):
            # In batches, as the tick hands out due messages.
            for start in range(0, len(ids), BATCH):
                messages_send_task.delay(ids[start : start + BATCH])
            queued = time.perf_counter() - started
            while True:
                left = Message.objects.filter(status__in=["queued", "sending"]).count()
                if left == 0 or time.perf_counter() - started > 600:
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            sent = Message.objects.filter(status="sent").count()
            failed = list(
                Message.objects.filter(status="failed").values_list("last_error", flat=True)[:3]
            )
            # Every batch again, as a broker redelivering each task would.
            for start in range(0, len(ids), BATCH):
                messages_send_task.delay(ids[start : start + BATCH])
            time.sleep(5)
            while Message.objects.filter(status__in=["queued", "sending"]).exists():
                if time.perf_counter() - started > 900:
                    break
                time.sleep(0.2)
            app.control.purge()
            attempts = Message.objects.filter(attempts__gt=1).count()
            SmsAccount.objects.all().delete()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        fake.close()
    reached, keys = _reached(provider, fake)
    return {
        "provider": provider,
        "messages": count,
        "worker_processes": concurrency,
        "queue_seconds": round(queued, 2),
        "total_seconds": round(elapsed, 2),
        "messages_per_second": round(count / elapsed, 1),
        "sent": sent,
        "failed_examples": failed,
        "reached_phones": reached,
        "duplicate_tokens": len(keys) - len(set(keys)),
        "messages_attempted_twice": attempts,
        "load_average": os.getloadavg(),
    }


# --- The run ---------------------------------------------------------------------------------


def run(
    *, parts, users, seconds, workers, messages, concurrency, json_path, providers=PROVIDERS
) -> dict:
    _database_prepare()
    tenant = _tenant(SLUG)
    tenant.message_hours = [["00:00", "24:00"]]
    tenant.save()
    connection.set_schema_to_public()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "debug": settings.DEBUG,
            "load_average": os.getloadavg(),
        },
    }
    if "page" in parts:
        report["page"] = page_measure(tenant, users=users, seconds=seconds, workers=workers)
    if "outbox" in parts:
        report["outbox"] = [
            outbox_measure(tenant, count=messages, concurrency=concurrency, provider=provider)
            for provider in providers
        ]
    report["budget"] = _budget(report)
    _print(report)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    print(f"\nJSON written to {json_path}")
    return report


def _budget(report: dict) -> list[dict]:
    rows = []
    if "page" in report:
        load = report["page"]["with_think_time"]
        for part in ("page", "submit"):
            p95 = load[part].get("p95_ms", math.inf)
            rows.append(
                {
                    "what": f"survey {part}: p95 at {load['users']} patients <= 150 ms",
                    "ok": p95 <= 150,
                    "figure": f"{p95:.1f} ms",
                }
            )
        rows.append(
            {
                "what": "survey page and submit: no error",
                "ok": load["errors"] == 0,
                "figure": f"{load['errors']} errors",
            }
        )
        rows.append(
            {
                "what": "one response per link",
                "ok": report["page"]["invitations_answered_twice"] == 0,
                "figure": f"{report['page']['invitations_answered_twice']} answered twice",
            }
        )
    for out in report.get("outbox", []):
        rows.append(
            {
                "what": f"outbox ({out['provider']}): {out['messages']:,} SMS sent <= 60 s",
                "ok": out["total_seconds"] <= 60 and out["sent"] == out["messages"],
                "figure": f"{out['total_seconds']} s ({out['sent']:,} sent)",
            }
        )
        rows.append(
            {
                "what": f"outbox ({out['provider']}): none reached a phone twice after redelivery",
                "ok": out["reached_phones"] == out["messages"] and not out["duplicate_tokens"],
                "figure": f"{out['reached_phones']:,} reached, "
                f"{out['duplicate_tokens']} duplicates",
            }
        )
    return rows


def _print(report: dict) -> None:
    if "page" in report:
        for name in ("with_think_time", "saturation"):
            load = report["page"][name]
            print(
                f"\n{name}: {load['users']} users, think {load['think_seconds']} s, "
                f"{load['requests_per_second']} req/s over {load['seconds']} s, "
                f"{load['errors']} errors, load average {load['load_average']}"
            )
            for part in ("page", "submit"):
                s = load[part]
                if s["count"]:
                    print(
                        f"  {part:<7} n={s['count']:>6}  p50 {s['p50_ms']:7.1f}  "
                        f"p95 {s['p95_ms']:7.1f}  max {s['max_ms']:7.1f} ms"
                    )
    for out in report.get("outbox", []):
        print(f"\noutbox ({out['provider']}):")
        for key, value in out.items():
            print(f"  {key:<26} {value}")
    print("\nBudget")
    for row in report["budget"]:
        print(f"  {'PASS' if row['ok'] else 'FAIL'}  {row['what']:<62} {row['figure']}")

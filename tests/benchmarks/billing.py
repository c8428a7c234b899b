"""Stripe webhooks (issue 8): what Stripe waits for, and what applying an event costs.

Side by side in one run, per event:

* verify     - the SDK's signature check and parsing alone (the floor for any endpoint);
* endpoint   - POST /billing/stripe/webhook/ through Django: verify, store by id, enqueue;
* replay     - the same event delivered again (found by id, acknowledged, not queued);
* apply      - the Celery task's work: lock the event, mirror, move the status, mark it.

Issue 8 sets no figure; the point is that the endpoint stays a small multiple of the
signature check, so Stripe's 10 s timeout is never near, whatever the processing costs."""

import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import stripe
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client

from billing.models import BillingAccount, Plan, WebhookEvent
from billing.stripe import handlers
from tenants.models import Tenant
from tenants.services import public_tenant_ensure
from tests.billing import stripe_events as se

SLUG = "bench-billing"


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "n": len(values),
        "median_ms": statistics.median(values),
        "p95_ms": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "max_ms": ordered[-1],
    }


def _events(n: int, customer: str, price: str) -> list[dict]:
    sub = se.subscription(customer=customer, price=price)
    now = int(time.time())
    kinds = []
    for i in range(n):
        if i % 3 == 0:
            kinds.append(se.event("customer.subscription.updated", sub, created=now + i))
        elif i % 3 == 1:
            invoice = se.invoice(customer=customer, subscription=sub["id"], status="open")
            kinds.append(se.event("invoice.payment_failed", invoice, created=now + i))
        else:
            invoice = se.invoice(customer=customer, subscription=sub["id"])
            kinds.append(se.event("invoice.paid", invoice, created=now + i))
    return kinds


def _cleanup() -> None:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=SLUG).first()
    if tenant is not None:
        WebhookEvent.objects.filter(account__tenant=tenant).delete()
        # Its console audit rows stay: audit tables are append-only, and a deleted tenant's
        # rows keep only its id.
        tenant.delete(force_drop=False)


def run(*, n: int, json_path: Path) -> None:
    settings.STRIPE_WEBHOOK_SECRET = settings.STRIPE_WEBHOOK_SECRET or "whsec_bench"
    secret = settings.STRIPE_WEBHOOK_SECRET
    call_command("migrate", verbosity=0)
    public_tenant_ensure()
    _cleanup()
    # A tenant row is all the webhook path touches (public schema only): no schema needed.
    tenant = Tenant(schema_name=SLUG, name="Bench billing", status=Tenant.Status.ACTIVE)
    tenant.save()
    plan = Plan.objects.get(code="starter")
    Plan.objects.filter(pk=plan.pk).update(stripe_price_monthly="price_bench_month")
    BillingAccount.objects.create(tenant=tenant, plan=plan, stripe_customer_id="cus_bench")
    events = _events(n, "cus_bench", "price_bench_month")
    payloads = [json.dumps(e) for e in events]
    signatures = [se.sign(p, secret) for p in payloads]
    client = Client(HTTP_HOST=settings.BASE_DOMAIN)
    timings: dict[str, list[float]] = {"verify": [], "endpoint": [], "replay": [], "apply": []}
    try:
        for payload, signature in zip(payloads, signatures, strict=True):
            started = time.perf_counter()
            stripe.Webhook.construct_event(payload, signature, secret)
            timings["verify"].append((time.perf_counter() - started) * 1000)
        for kind, chosen in (("endpoint", payloads), ("replay", payloads)):
            for payload, signature in zip(chosen, signatures, strict=True):
                started = time.perf_counter()
                response = client.post(
                    "/billing/stripe/webhook/",
                    data=payload,
                    content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=signature,
                )
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.content
        ids = list(
            WebhookEvent.objects.filter(account__isnull=True, processed_at__isnull=True)
            .order_by("created")
            .values_list("pk", flat=True)
        )
        for event_id in ids:
            started = time.perf_counter()
            handlers.event_process(event_id)
            timings["apply"].append((time.perf_counter() - started) * 1000)
        applied = WebhookEvent.objects.filter(
            account__tenant=tenant, processed_at__isnull=False
        ).count()
        assert applied == n, (applied, n)
    finally:
        Plan.objects.filter(pk=plan.pk).update(stripe_price_monthly="")
        _cleanup()

    results = {name: _summary(values) for name, values in timings.items()}
    print(f"\nStripe webhooks, {n} events (ms per event)")
    print(f"{'step':<10} {'median':>8} {'p95':>8} {'max':>8}")
    for name, row in results.items():
        print(f"{name:<10} {row['median_ms']:>8.2f} {row['p95_ms']:>8.2f} {row['max_ms']:>8.2f}")
    ratio = results["endpoint"]["median_ms"] / results["verify"]["median_ms"]
    print(f"endpoint / verify (median): {ratio:.1f}x")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 shared cores)")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps(
            {
                "suite": "billing",
                "at": datetime.now(UTC).isoformat(),
                "machine": platform.platform(),
                "load_average": load,
                "events": n,
                "results": results,
                "endpoint_over_verify": ratio,
            },
            indent=2,
        )
    )
    print(f"JSON: {json_path}")

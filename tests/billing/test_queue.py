"""The webhook on the real queue: the endpoint answers once the event is stored, and a real
Celery worker (filesystem transport) applies it, in the public schema, once."""

import json
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.test import Client

from billing.models import BillingAccount, Plan, Subscription, WebhookEvent
from saas.celery import app
from tenants.models import ConsoleAuditEntry, Tenant
from tests.billing import stripe_events as se
from tests.conftest import audit_rows_purge, committed
from tests.saas.test_celery import filesystem_broker  # noqa: F401  (fixture)


def _account_open() -> None:
    Plan.objects.filter(code="starter").update(stripe_price_monthly="price_queue_month")
    BillingAccount.objects.create(
        tenant=Tenant.objects.get(schema_name="alpha"),
        plan=Plan.objects.get(code="starter"),
        stripe_customer_id="cus_queue",
    )


def _clean() -> None:
    tenant = Tenant.objects.get(schema_name="alpha")
    WebhookEvent.objects.filter(stripe_id__startswith="evt_").delete()
    audit_rows_purge(ConsoleAuditEntry, tenant_id=tenant.pk)
    BillingAccount.objects.filter(tenant=tenant).delete()
    Plan.objects.filter(code="starter").update(stripe_price_monthly="")
    Tenant.objects.filter(pk=tenant.pk).update(status="trial")


@pytest.fixture
def committed_account():
    committed(_account_open)
    yield
    committed(_clean)


def _deliver(payload: str) -> tuple[int, bool]:
    response = Client(HTTP_HOST="localhost").post(
        "/billing/stripe/webhook/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=se.sign(payload, settings.STRIPE_WEBHOOK_SECRET),
    )
    return response.status_code, WebhookEvent.objects.filter(
        stripe_id=json.loads(payload)["id"]
    ).exists()


def _state(event_id: str):
    event = WebhookEvent.objects.filter(stripe_id=event_id).first()
    return (
        event.processed_at is not None if event else None,
        Tenant.objects.get(schema_name="alpha").status,
        Subscription.objects.filter(account__stripe_customer_id="cus_queue").count(),
    )


@pytest.mark.django_db
def test_a_real_worker_applies_a_stored_event_once(filesystem_broker, committed_account):  # noqa: F811
    event = se.event(
        "customer.subscription.created",
        se.subscription(customer="cus_queue", price="price_queue_month"),
    )
    payload = json.dumps(event)

    # Stored and acknowledged with no worker running: nothing applied yet.
    assert committed(_deliver, payload) == (200, True)
    assert committed(_state, event["id"]) == (False, "trial", 0)

    with start_worker(app, pool="solo", perform_ping_check=False):
        committed(_deliver, payload)  # a redelivery meanwhile queues it a second time
        deadline = time.monotonic() + 20
        while committed(_state, event["id"])[0] is not True and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # both messages handled

    assert committed(_state, event["id"]) == (True, "active", 1)
    assert committed(lambda: WebhookEvent.objects.get(stripe_id=event["id"]).deliveries) == 2

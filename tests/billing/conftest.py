"""Billing fixtures: a fake Stripe API on 127.0.0.1 (one server for the session, emptied for
each test), plans with Stripe price ids, and signed webhook deliveries."""

import json

import pytest
from django.conf import settings

from billing.models import BillingAccount, Plan
from tests.billing import stripe_events
from tests.billing.fake_stripe import FakeStripe

PRICES = {
    "starter": ("price_starter_month", "price_starter_year"),
    "professional": ("price_pro_month", "price_pro_year"),
}


@pytest.fixture(autouse=True)
def _signup_limits_reset():
    """The sign-up limit counts per address in the cache; every test here comes from one."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def _fake_stripe_server():
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe(_fake_stripe_server, settings):
    fake = _fake_stripe_server
    fake.requests.clear()
    fake.customers.clear()
    fake.sessions.clear()
    fake.idempotency.clear()
    fake.fail_next = None
    fake.prices = {}
    for monthly, yearly in PRICES.values():
        fake.prices[monthly] = "month"
        fake.prices[yearly] = "year"
    settings.STRIPE_API_BASE = fake.url
    return fake


@pytest.fixture
def plans(db) -> dict[str, Plan]:
    """The seeded plans, with Stripe price ids for starter and professional."""
    for code, (monthly, yearly) in PRICES.items():
        Plan.objects.filter(code=code).update(
            stripe_price_monthly=monthly, stripe_price_yearly=yearly
        )
    return {plan.code: plan for plan in Plan.objects.all()}


@pytest.fixture
def account_a(tenant_a, plans) -> BillingAccount:
    account, _ = BillingAccount.objects.update_or_create(
        tenant=tenant_a, defaults={"plan": plans["starter"], "stripe_customer_id": "cus_alpha"}
    )
    return account


@pytest.fixture
def account_b(tenant_b, plans) -> BillingAccount:
    account, _ = BillingAccount.objects.update_or_create(
        tenant=tenant_b, defaults={"plan": plans["starter"], "stripe_customer_id": "cus_beta"}
    )
    return account


@pytest.fixture
def deliver(public_client, django_capture_on_commit_callbacks):
    """POST an event to the webhook as Stripe does (signed now, or as told); the processing
    task it queues runs when the request's transaction commits."""

    def post(event: dict, *, secret: str | None = None, timestamp: int | None = None,
             signature: str | None = None, raw: str | None = None):  # fmt: skip
        payload = raw if raw is not None else json.dumps(event)
        header = signature or stripe_events.sign(
            payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp
        )
        with django_capture_on_commit_callbacks(execute=True):
            return public_client.post(
                "/billing/stripe/webhook/",
                data=payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=header,
            )

    return post

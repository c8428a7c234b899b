"""Stripe webhooks: verified, stored by event id, applied exactly once in a task, in any
order; the tenant's status follows payments (trial → active → past_due → suspended → active)."""

import json
import time
from datetime import timedelta

from django.utils import timezone

from billing.models import BillingAccount, Subscription, WebhookEvent
from billing.services import billing_tick
from billing.stripe import handlers
from billing.tasks import webhook_event_process_task
from tenants.models import ConsoleAuditEntry, Tenant
from tests.billing import stripe_events as se


def status_of(tenant) -> str:
    return Tenant.objects.get(pk=tenant.pk).status


def test_a_paid_checkout_makes_the_trial_tenant_active(deliver, account_a, tenant_a):
    session = se.checkout_session(customer="cus_alpha", tenant_id=tenant_a.pk)

    response = deliver(se.event("checkout.session.completed", session))

    assert response.status_code == 200
    assert status_of(tenant_a) == "active"
    event = WebhookEvent.objects.get()
    assert event.processed_at is not None
    assert event.account == account_a
    assert event.outcome == "tenant active"
    assert ConsoleAuditEntry.objects.filter(
        tenant=tenant_a, detail__to="active", detail__reason="checkout completed"
    ).exists()


def test_checkout_links_the_customer_when_the_account_has_none_yet(deliver, account_a, tenant_a):
    BillingAccount.objects.filter(pk=account_a.pk).update(stripe_customer_id=None)

    deliver(
        se.event(
            "checkout.session.completed",
            se.checkout_session(customer="cus_new", tenant_id=tenant_a.pk),
        )
    )

    assert BillingAccount.objects.get(pk=account_a.pk).stripe_customer_id == "cus_new"
    assert status_of(tenant_a) == "active"


def test_subscription_events_keep_a_mirror_and_set_the_plan(deliver, account_a, plans):
    sub = se.subscription(customer="cus_alpha", price="price_pro_year", interval="year")

    deliver(se.event("customer.subscription.created", sub))

    mirror = Subscription.objects.get(stripe_id=sub["id"])
    assert (mirror.status, mirror.price_id, mirror.plan, mirror.interval) == (
        "active",
        "price_pro_year",
        plans["professional"],
        "year",
    )
    assert mirror.current_period_end is not None
    account = BillingAccount.objects.get(pk=account_a.pk)
    assert (account.plan, account.interval) == (plans["professional"], "year")


def test_the_whole_life_trial_active_past_due_suspended_and_back(deliver, account_a, tenant_a):
    sub = se.subscription(customer="cus_alpha", price="price_starter_month")
    deliver(se.event("customer.subscription.created", sub))
    assert status_of(tenant_a) == "active"

    deliver(
        se.event(
            "invoice.payment_failed",
            se.invoice(customer="cus_alpha", subscription=sub["id"], status="open"),
        )
    )
    assert status_of(tenant_a) == "past_due"
    grace = BillingAccount.objects.get(pk=account_a.pk).grace_ends_at
    assert grace > timezone.now() + timedelta(days=6)

    assert billing_tick(now=grace - timedelta(minutes=1)) == {"grace_ended": 0, "trial_ended": 0}
    assert status_of(tenant_a) == "past_due"
    assert billing_tick(now=grace + timedelta(minutes=1)) == {"grace_ended": 1, "trial_ended": 0}
    assert status_of(tenant_a) == "suspended"
    assert BillingAccount.objects.get(pk=account_a.pk).billing_hold is True

    deliver(se.event("invoice.paid", se.invoice(customer="cus_alpha", subscription=sub["id"])))
    assert status_of(tenant_a) == "active"
    account = BillingAccount.objects.get(pk=account_a.pk)
    assert (account.billing_hold, account.grace_ends_at) == (False, None)


def test_a_payment_does_not_lift_a_suspension_made_by_vendor_staff(deliver, account_a, tenant_a):
    from tenants.services import tenant_suspend

    tenant_suspend(tenant=tenant_a, reason="abuse")

    deliver(se.event("invoice.paid", se.invoice(customer="cus_alpha", subscription="sub_1")))

    assert status_of(tenant_a) == "suspended"


def test_a_deleted_subscription_suspends_the_tenant(deliver, account_a, tenant_a):
    sub = se.subscription(customer="cus_alpha", price="price_starter_month")
    deliver(se.event("customer.subscription.created", sub, created=int(time.time()) - 10))

    deliver(se.event("customer.subscription.deleted", {**sub, "status": "canceled"}))

    assert status_of(tenant_a) == "suspended"
    assert Subscription.objects.get(stripe_id=sub["id"]).status == "canceled"


def test_trial_that_ran_out_is_suspended_by_the_tick(account_a, tenant_a):
    BillingAccount.objects.filter(pk=account_a.pk).update(
        trial_ends_at=timezone.now() - timedelta(hours=1)
    )

    assert billing_tick() == {"grace_ended": 0, "trial_ended": 1}
    assert status_of(tenant_a) == "suspended"


# --- Bad input --------------------------------------------------------------------------


def test_a_forged_signature_is_refused_and_nothing_is_stored(deliver, account_a, tenant_a):
    event = se.event("invoice.paid", se.invoice(customer="cus_alpha", subscription="sub_1"))

    response = deliver(event, secret="whsec_forged")

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert status_of(tenant_a) == "trial"


def test_a_body_changed_after_signing_is_refused(deliver, account_a):
    event = se.event("invoice.paid", se.invoice(customer="cus_alpha", subscription="sub_1"))
    signature = se.sign(json.dumps(event), "whsec_test_carebridge")
    event["data"]["object"]["customer"] = "cus_beta"

    response = deliver(event, signature=signature)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_stale_signature_is_refused(deliver, account_a, tenant_a):
    event = se.event("invoice.paid", se.invoice(customer="cus_alpha", subscription="sub_1"))

    response = deliver(event, timestamp=int(time.time()) - 3600)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_missing_signature_or_a_body_that_is_not_json_is_refused(public_client, deliver):
    assert (
        public_client.post(
            "/billing/stripe/webhook/", data="{}", content_type="application/json"
        ).status_code
        == 400
    )
    assert deliver({}, raw="not json").status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_replayed_event_has_no_second_effect(deliver, account_a, tenant_a):
    sub = se.subscription(customer="cus_alpha", price="price_starter_month")
    deliver(se.event("customer.subscription.created", sub))
    failed = se.event(
        "invoice.payment_failed",
        se.invoice(customer="cus_alpha", subscription=sub["id"], status="open"),
    )
    deliver(failed)
    grace = BillingAccount.objects.get(pk=account_a.pk).grace_ends_at
    audit_rows = ConsoleAuditEntry.objects.filter(tenant=tenant_a).count()

    second = deliver(failed)
    third = deliver(failed)

    assert (second.status_code, second.content, third.content) == (200, b"duplicate", b"duplicate")
    event = WebhookEvent.objects.get(stripe_id=failed["id"])
    assert event.deliveries == 3
    assert BillingAccount.objects.get(pk=account_a.pk).grace_ends_at == grace
    assert ConsoleAuditEntry.objects.filter(tenant=tenant_a).count() == audit_rows


def test_the_task_run_twice_applies_the_event_once(deliver, account_a, tenant_a):
    event = se.event(
        "checkout.session.completed",
        se.checkout_session(customer="cus_alpha", tenant_id=tenant_a.pk),
    )
    deliver(event)
    stored = WebhookEvent.objects.get(stripe_id=event["id"])
    audit_rows = ConsoleAuditEntry.objects.filter(tenant=tenant_a).count()

    webhook_event_process_task.delay(stored.pk)

    assert ConsoleAuditEntry.objects.filter(tenant=tenant_a).count() == audit_rows
    assert WebhookEvent.objects.get(pk=stored.pk).processed_at == stored.processed_at


def test_updated_before_created_keeps_the_newest_state(deliver, account_a, plans):
    now = int(time.time())
    sub = se.subscription(customer="cus_alpha", price="price_starter_month")
    upgraded = {**sub, "items": se.subscription(
        customer="cus_alpha", price="price_pro_month", sub_id=sub["id"])["items"]}  # fmt: skip

    deliver(se.event("customer.subscription.updated", upgraded, created=now))
    late = deliver(se.event("customer.subscription.created", sub, created=now - 60))

    assert late.status_code == 200
    mirror = Subscription.objects.get(stripe_id=sub["id"])
    assert (mirror.price_id, mirror.plan) == ("price_pro_month", plans["professional"])
    assert BillingAccount.objects.get(pk=account_a.pk).plan == plans["professional"]
    assert WebhookEvent.objects.get(type="customer.subscription.created").outcome.startswith(
        "stale"
    )


def test_a_late_payment_failure_does_not_undo_a_newer_payment(deliver, account_a, tenant_a):
    now = int(time.time())
    deliver(
        se.event(
            "invoice.paid", se.invoice(customer="cus_alpha", subscription="sub_1"), created=now
        )
    )

    deliver(
        se.event(
            "invoice.payment_failed",
            se.invoice(customer="cus_alpha", subscription="sub_1", status="open"),
            created=now - 120,
        )
    )

    assert status_of(tenant_a) == "active"


def test_an_unknown_event_type_is_stored_and_changes_nothing(deliver, account_a, tenant_a):
    response = deliver(se.event("customer.discount.created", {"customer": "cus_alpha"}))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.outcome, event.processed_at is not None) == (
        "ignored: event type not handled",
        True,
    )
    assert status_of(tenant_a) == "trial"


def test_an_unknown_price_is_mirrored_but_keeps_the_plan(deliver, account_a, plans):
    sub = se.subscription(customer="cus_alpha", price="price_nobody_knows")

    deliver(se.event("customer.subscription.created", sub))

    mirror = Subscription.objects.get(stripe_id=sub["id"])
    assert (mirror.price_id, mirror.plan) == ("price_nobody_knows", None)
    assert BillingAccount.objects.get(pk=account_a.pk).plan == plans["starter"]
    assert WebhookEvent.objects.get().outcome.startswith("unknown price")


def test_a_checkout_for_a_tenant_that_no_longer_exists_is_recorded_and_ignored(deliver, account_a):
    session = se.checkout_session(customer="cus_gone", tenant_id=987654)

    response = deliver(se.event("checkout.session.completed", session))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.outcome == "ignored: no tenant for this checkout (deleted?)"
    assert event.account is None
    assert not BillingAccount.objects.filter(stripe_customer_id="cus_gone").exists()


def test_processing_that_fails_midway_leaves_nothing_and_is_retried(
    deliver, account_a, tenant_a, monkeypatch
):
    """The mirror is written before the status change fails: the whole event rolls back,
    the error is kept for the console, and the worker's retry applies it completely."""
    real = handlers.tenant_set_status
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(handlers, "tenant_set_status", flaky)
    sub = se.subscription(customer="cus_alpha", price="price_starter_month")

    response = deliver(se.event("customer.subscription.created", sub))

    assert response.status_code == 200  # Stripe got its answer before processing
    stored = WebhookEvent.objects.get()
    assert stored.processed_at is None
    assert stored.last_error == "ConnectionError: database went away"
    assert not Subscription.objects.exists()
    assert status_of(tenant_a) == "trial"

    webhook_event_process_task.apply(args=[stored.pk])  # the retry Celery scheduled

    assert status_of(tenant_a) == "active"
    assert Subscription.objects.filter(stripe_id=sub["id"]).count() == 1
    stored.refresh_from_db()
    assert (stored.processed_at is not None, stored.last_error) == (True, "")


def test_an_unapplied_event_is_queued_again_when_stripe_redelivers_it(
    deliver, account_a, tenant_a, monkeypatch
):
    def broken(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(handlers, "tenant_set_status", broken)
    event = se.event(
        "customer.subscription.created",
        se.subscription(customer="cus_alpha", price="price_starter_month"),
    )
    deliver(event)
    assert WebhookEvent.objects.get().processed_at is None

    monkeypatch.undo()
    deliver(event)

    assert status_of(tenant_a) == "active"
    stored = WebhookEvent.objects.get()
    assert (stored.deliveries, stored.processed_at is not None) == (2, True)


# --- Isolation --------------------------------------------------------------------------


def test_an_event_for_a_customer_of_a_touches_only_a(deliver, account_a, account_b,
                                                     tenant_a, tenant_b):  # fmt: skip
    sub = se.subscription(customer="cus_alpha", price="price_pro_month")
    sub["metadata"] = {"tenant_id": str(tenant_b.pk)}  # whatever the metadata claims

    deliver(se.event("customer.subscription.created", sub))
    deliver(
        se.event(
            "invoice.payment_failed",
            se.invoice(customer="cus_alpha", subscription=sub["id"], status="open"),
        )
    )

    assert status_of(tenant_a) == "past_due"
    assert status_of(tenant_b) == "trial"
    b = BillingAccount.objects.get(pk=account_b.pk)
    assert (b.plan.code, b.grace_ends_at, b.subscriptions.count()) == ("starter", None, 0)


def test_a_checkout_naming_b_with_a_customer_of_a_never_touches_b(
    deliver, account_a, account_b, tenant_a, tenant_b
):
    session = se.checkout_session(customer="cus_alpha", tenant_id=tenant_b.pk)

    deliver(se.event("checkout.session.completed", session))

    assert status_of(tenant_b) == "trial"
    assert BillingAccount.objects.get(pk=account_b.pk).stripe_customer_id == "cus_beta"
    assert WebhookEvent.objects.get().account == account_a


def test_a_checkout_naming_b_with_a_stranger_customer_does_not_relink_b(
    deliver, account_b, tenant_b
):
    session = se.checkout_session(customer="cus_stranger", tenant_id=tenant_b.pk)

    deliver(se.event("checkout.session.completed", session))

    assert status_of(tenant_b) == "trial"
    assert BillingAccount.objects.get(pk=account_b.pk).stripe_customer_id == "cus_beta"
    assert WebhookEvent.objects.get().outcome == (
        "ignored: tenant is linked to another Stripe customer"
    )


def test_an_old_subscription_ending_does_not_suspend_a_tenant_with_a_new_one(
    deliver, account_a, tenant_a
):
    old = se.subscription(customer="cus_alpha", price="price_starter_month")
    new = se.subscription(customer="cus_alpha", price="price_pro_month")
    now = int(time.time())
    deliver(se.event("customer.subscription.created", old, created=now - 100))
    deliver(se.event("customer.subscription.created", new, created=now - 50))

    deliver(se.event("customer.subscription.deleted", {**old, "status": "canceled"}, created=now))

    assert status_of(tenant_a) == "active"
    assert WebhookEvent.objects.get(type="customer.subscription.deleted").outcome.endswith(
        "another subscription is active"
    )

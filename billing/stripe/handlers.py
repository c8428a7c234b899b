"""What each Stripe event does to our mirror and to the tenant's status.

An event is applied in one transaction together with its ``processed_at`` mark, so it takes
effect exactly once; a failure rolls everything back and the task retries it. Events may
arrive in any order: the subscription mirror keeps the creation time of the newest event it
applied (``Subscription.event_at``) and the account the newest status-changing event
(``status_event_at`` below), and anything older is recorded but changes nothing.

The tenant is found by the event's Stripe customer, which we created for that tenant. Only
checkout.session.completed may link a customer to a tenant (by ``client_reference_id``),
and never a customer already linked elsewhere or a tenant already linked to another."""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from saas import clock
from tenants.models import Tenant
from tenants.services import tenant_set_status

from ..models import BillingAccount, Plan, Subscription, WebhookEvent

logger = logging.getLogger(__name__)

ACTIVE_STATES = {"active", "trialing"}
LATE_STATES = {"past_due", "unpaid"}
ENDED_STATES = {"canceled", "incomplete_expired"}


def event_process(event_id: int) -> WebhookEvent:
    """Apply one stored event, unless it was applied already (a redelivery or a second
    worker finds ``processed_at`` set under the row lock and does nothing)."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.processed_at is not None:
            return event
        handler = HANDLERS.get(event.type)
        obj = (event.payload.get("data") or {}).get("object") or {}
        outcome = handler(event, obj) if handler else "ignored: event type not handled"
        event.processed_at = clock.now()
        event.outcome = outcome[:200]
        event.last_error = ""
        event.save(update_fields=["processed_at", "outcome", "last_error", "account"])
    return event


def event_failed(event_id: int, error: str) -> None:
    WebhookEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        last_error=error[:500]
    )


# --- Finding the tenant -----------------------------------------------------------------


def _account_by_customer(customer_id) -> BillingAccount | None:
    if not isinstance(customer_id, str) or not customer_id:
        return None
    return (
        BillingAccount.objects.select_for_update(of=("self",))
        .select_related("tenant", "plan")
        .filter(stripe_customer_id=customer_id)
        .first()
    )


def _plan_for_price(price_id: str) -> Plan | None:
    if not price_id:
        return None
    return Plan.objects.filter(
        Q(stripe_price_monthly=price_id) | Q(stripe_price_yearly=price_id)
    ).first()


def _fresh_for_status(account: BillingAccount, event: WebhookEvent) -> bool:
    """Whether this event is newer than the last one that moved the account's status; if
    so, it becomes that one."""
    if account.status_event_at is not None and event.created < account.status_event_at:
        return False
    account.status_event_at = event.created
    account.save(update_fields=["status_event_at"])
    return True


# --- Status moves -----------------------------------------------------------------------


def _activate(account: BillingAccount, reason: str) -> str:
    tenant = account.tenant
    account.grace_ends_at = None
    if account.comped:
        account.save(update_fields=["grace_ends_at"])
        return "comped: status kept"
    lifted = tenant.status in (Tenant.Status.TRIAL, Tenant.Status.PAST_DUE) or (
        tenant.status == Tenant.Status.SUSPENDED and account.billing_hold
    )
    account.billing_hold = False
    account.save(update_fields=["grace_ends_at", "billing_hold"])
    if lifted:
        tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE, reason=reason)
        return "tenant active"
    return f"tenant stays {tenant.status}"


def _past_due(account: BillingAccount, reason: str) -> str:
    tenant = account.tenant
    if account.comped:
        return "comped: status kept"
    if tenant.status in (Tenant.Status.ACTIVE, Tenant.Status.TRIAL):
        account.grace_ends_at = clock.now() + timedelta(days=settings.BILLING_GRACE_DAYS)
        account.save(update_fields=["grace_ends_at"])
        tenant_set_status(tenant=tenant, status=Tenant.Status.PAST_DUE, reason=reason)
        return "tenant past due"
    return f"tenant stays {tenant.status}"


def _ended(account: BillingAccount, reason: str) -> str:
    tenant = account.tenant
    if account.comped:
        return "comped: status kept"
    if tenant.status in (Tenant.Status.SUSPENDED, Tenant.Status.DELETED):
        # A deleted clinic's tombstone stays deleted: suspending it would count it live again.
        return f"tenant stays {tenant.status}"
    account.billing_hold = True
    account.save(update_fields=["billing_hold"])
    tenant_set_status(tenant=tenant, status=Tenant.Status.SUSPENDED, reason=reason)
    return "tenant suspended"


# --- Handlers ---------------------------------------------------------------------------


def checkout_completed(event: WebhookEvent, session: dict) -> str:
    customer_id = session.get("customer")
    account = _account_by_customer(customer_id)
    if account is None:
        reference = str(session.get("client_reference_id") or "")
        account = (
            BillingAccount.objects.select_for_update(of=("self",))
            .select_related("tenant", "plan")
            .filter(tenant_id=int(reference) if reference.isdigit() else None)
            .first()
        )
        if account is None:
            return "ignored: no tenant for this checkout (deleted?)"
        if account.stripe_customer_id and account.stripe_customer_id != customer_id:
            logger.warning("checkout %s: tenant already has another customer", event.stripe_id)
            return "ignored: tenant is linked to another Stripe customer"
        if not isinstance(customer_id, str) or not customer_id:
            return "ignored: checkout without a customer"
        account.stripe_customer_id = customer_id
        account.save(update_fields=["stripe_customer_id"])
    event.account = account
    if session.get("mode") != "subscription":
        return "ignored: not a subscription checkout"
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "checkout complete, payment pending"
    if not _fresh_for_status(account, event):
        return "stale: a newer event already set the status"
    return _activate(account, "checkout completed")


def _subscription_mirror(event: WebhookEvent, sub: dict, account: BillingAccount) -> str:
    items = ((sub.get("items") or {}).get("data")) or [{}]
    item = items[0] or {}
    price = item.get("price") or {}
    price_id = price.get("id") or ""
    interval = (price.get("recurring") or {}).get("interval") or ""
    period_end = item.get("current_period_end")
    plan = _plan_for_price(price_id)
    mirror = Subscription.objects.select_for_update().filter(stripe_id=sub["id"]).first()
    if mirror is not None and mirror.event_at > event.created:
        return "stale: a newer event already updated this subscription"
    if mirror is None:
        mirror = Subscription(stripe_id=sub["id"], account=account)
    mirror.account = account
    mirror.status = str(sub.get("status") or "")[:30]
    mirror.price_id = price_id[:100]
    mirror.plan = plan
    mirror.interval = interval[:5]
    mirror.current_period_end = (
        datetime.fromtimestamp(int(period_end), tz=UTC) if period_end else None
    )
    mirror.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    mirror.event_at = event.created
    mirror.save()
    if plan is None:
        logger.warning("subscription %s has an unknown price", sub["id"])
        return "unknown price: subscription mirrored, plan unchanged"
    account.plan = plan
    account.interval = (
        BillingAccount.Interval.YEAR if interval == "year" else BillingAccount.Interval.MONTH
    )
    account.save(update_fields=["plan", "interval"])
    return f"plan {plan.code}"


def subscription_changed(event: WebhookEvent, sub: dict) -> str:
    account = _account_by_customer(sub.get("customer"))
    if account is None:
        return "ignored: unknown customer"
    event.account = account
    if not isinstance(sub.get("id"), str):
        return "ignored: no subscription id"
    mirrored = _subscription_mirror(event, sub, account)
    if mirrored.startswith("stale"):
        return mirrored
    status = "canceled" if event.type.endswith(".deleted") else sub.get("status")
    if not _fresh_for_status(account, event):
        return f"{mirrored}; status stale"
    if status in ACTIVE_STATES:
        effect = _activate(account, f"subscription {status}")
    elif status in LATE_STATES:
        effect = _past_due(account, f"subscription {status}")
    elif status in ENDED_STATES:
        others = account.subscriptions.exclude(stripe_id=sub["id"]).filter(status__in=ACTIVE_STATES)
        # An old subscription ending (replaced by a new one) does not end the service.
        effect = (
            "another subscription is active"
            if others.exists()
            else _ended(account, "subscription ended")
        )
    else:
        effect = f"status {status}: no change"
    return f"{mirrored}; {effect}"


def _invoice_for_subscription(invoice: dict) -> bool:
    parent = invoice.get("parent") or {}
    return bool((parent.get("subscription_details") or {}).get("subscription"))


def invoice_paid(event: WebhookEvent, invoice: dict) -> str:
    account = _account_by_customer(invoice.get("customer"))
    if account is None:
        return "ignored: unknown customer"
    event.account = account
    if not _invoice_for_subscription(invoice):
        return "ignored: not a subscription invoice"
    if not _fresh_for_status(account, event):
        return "stale: a newer event already set the status"
    return _activate(account, "invoice paid")


def invoice_payment_failed(event: WebhookEvent, invoice: dict) -> str:
    account = _account_by_customer(invoice.get("customer"))
    if account is None:
        return "ignored: unknown customer"
    event.account = account
    if not _invoice_for_subscription(invoice):
        return "ignored: not a subscription invoice"
    if not _fresh_for_status(account, event):
        return "stale: a newer event already set the status"
    return _past_due(account, "invoice payment failed")


HANDLERS = {
    "checkout.session.completed": checkout_completed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": invoice_payment_failed,
}

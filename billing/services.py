"""Writes of billing: sign-up, checkout and portal sessions, the daily status pass, and the
vendor console's actions (each one audit-logged)."""

from dataclasses import dataclass, fields
from datetime import timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from saas import clock
from tenants.models import Tenant
from tenants.services import (
    ProvisionResult,
    tenant_provision,
    tenant_reactivate,
    tenant_set_status,
    tenant_suspend,
)

from .entitlements import plan_default
from .models import BillingAccount, BillingAuditEntry, Plan
from .stripe.client import BillingNotConfigured, stripe_client

# A subscription in these states is (or will again be) charged. Not "incomplete": its first
# payment failed in Checkout, Stripe lets it expire unpaid, and a new Checkout is the way out.
LIVE_SUBSCRIPTION_STATES = ("active", "trialing", "past_due", "unpaid")


def account_ensure(tenant: Tenant, *, plan: Plan | None = None) -> BillingAccount:
    """The tenant's billing account, opened on the trial plan if it has none yet."""
    account, _created = BillingAccount.objects.get_or_create(
        tenant=tenant,
        defaults={
            "plan": plan or plan_default(),
            "trial_ends_at": clock.now() + timedelta(days=settings.BILLING_TRIAL_DAYS)
            if tenant.status == Tenant.Status.TRIAL
            else None,
        },
    )
    return account


def signup(
    *, name: str, slug: str, kind: str, admin_email: str, locale: str, plan: Plan | None = None
) -> ProvisionResult:
    """A clinic signs up on the public site: a tenant in trial (provisioned as the console
    does: pool, clone or migrations), its first admin invited by email, and a billing
    account whose trial ends in BILLING_TRIAL_DAYS. All or nothing."""
    if plan is not None and not plan.public:
        raise ValidationError(_("Choose one of the plans on the pricing page."))
    with transaction.atomic():
        result = tenant_provision(
            name=name, slug=slug, kind=kind, admin_email=admin_email, locale=locale
        )
        account_ensure(result.tenant, plan=plan)
    return result


# --- Stripe Checkout and customer portal ------------------------------------------------


def _unavailable() -> ValidationError:
    return ValidationError(
        _("The payment service cannot be reached right now. Nothing was charged; please try "
          "again in a few minutes."),
        code="stripe_unavailable",
    )  # fmt: skip


def _customer_ensure(account: BillingAccount, *, email: str) -> str:
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer = stripe_client().v1.customers.create(
        params={
            "name": account.tenant.name,
            "email": email,
            "metadata": {"tenant_id": str(account.tenant_id), "slug": account.tenant.slug},
        },
        # A retried request (double click, network hiccup) makes no second customer.
        options={"idempotency_key": f"carebridge-customer-{account.tenant_id}"},
    )
    account.stripe_customer_id = customer.id
    account.save(update_fields=["stripe_customer_id"])
    return customer.id


def checkout_start(
    *, tenant: Tenant, plan: Plan, interval: str, email: str, return_url: str
) -> str:
    """A Stripe Checkout session for ``plan`` billed per ``interval``; returns its URL. The
    tenant becomes active when Stripe reports the payment (webhook), not here."""
    if interval not in BillingAccount.Interval.values:
        raise ValidationError(_("Choose monthly or yearly billing."))
    price = plan.stripe_price_yearly if interval == "year" else plan.stripe_price_monthly
    if not plan.public or not price:
        raise ValidationError(
            _("The %(plan)s plan cannot be bought online. Please contact CareBridge.")
            % {"plan": plan.name},
            code="no_price",
        )
    account = account_ensure(tenant)
    if account.comped:
        raise ValidationError(
            _("Your plan is provided by CareBridge free of charge; there is nothing to pay."),
            code="comped",
        )
    if account.subscriptions.filter(status__in=LIVE_SUBSCRIPTION_STATES).exists():
        # A second Checkout would start a second subscription, charged on top of the first.
        raise ValidationError(
            _("You already have a subscription. Change the plan with the payment and "
              "invoices button."),
            code="subscribed",
        )  # fmt: skip
    try:
        customer_id = _customer_ensure(account, email=email)
        session = stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "customer": customer_id,
                "client_reference_id": str(tenant.pk),
                "line_items": [{"price": price, "quantity": 1}],
                "metadata": {"tenant_id": str(tenant.pk), "plan": plan.code},
                "subscription_data": {"metadata": {"tenant_id": str(tenant.pk)}},
                "success_url": f"{return_url}?checkout=success",
                "cancel_url": f"{return_url}?checkout=cancelled",
            }
        )
    except BillingNotConfigured as exc:
        raise ValidationError(
            _("Online payment is not set up on this installation."), code="not_configured"
        ) from exc
    except stripe.StripeError as exc:
        raise _unavailable() from exc
    return session.url


def portal_open(*, tenant: Tenant, return_url: str) -> str:
    """A Stripe customer-portal session (payment method, plan changes, invoices)."""
    account = BillingAccount.objects.filter(tenant=tenant).first()
    if account is None or not account.stripe_customer_id:
        raise ValidationError(
            _("There is no subscription to manage yet. Choose a plan first."), code="no_customer"
        )
    try:
        session = stripe_client().v1.billing_portal.sessions.create(
            params={"customer": account.stripe_customer_id, "return_url": return_url}
        )
    except BillingNotConfigured as exc:
        raise ValidationError(
            _("Online payment is not set up on this installation."), code="not_configured"
        ) from exc
    except stripe.StripeError as exc:
        raise _unavailable() from exc
    return session.url


# --- The daily pass ---------------------------------------------------------------------


def billing_tick(*, now=None) -> dict:
    """Suspend tenants whose payment grace period or trial has run out (billing_hold: a
    later payment lifts it). Comped tenants are left alone."""
    now = now or clock.now()
    counts = {"grace_ended": 0, "trial_ended": 0}
    overdue = BillingAccount.objects.filter(
        tenant__status=Tenant.Status.PAST_DUE, grace_ends_at__lte=now, comped=False
    )
    trials = BillingAccount.objects.filter(
        tenant__status=Tenant.Status.TRIAL, trial_ends_at__lte=now, comped=False
    )
    for key, accounts, reason in (
        ("grace_ended", overdue, "grace period ended"),
        ("trial_ended", trials, "trial ended"),
    ):
        for account_id in accounts.values_list("pk", flat=True):
            with transaction.atomic():
                account = (
                    BillingAccount.objects.select_for_update(of=("self",))
                    .select_related("tenant")
                    .get(pk=account_id)
                )
                if account.tenant.status == Tenant.Status.SUSPENDED:
                    continue
                account.billing_hold = True
                account.save(update_fields=["billing_hold"])
                tenant_set_status(
                    tenant=account.tenant, status=Tenant.Status.SUSPENDED, reason=reason
                )
                counts[key] += 1
    return counts


# --- Vendor console actions -------------------------------------------------------------


def _audit(actor, tenant: Tenant, action: str, **detail) -> None:
    BillingAuditEntry.objects.create(actor=actor, tenant=tenant, action=action, detail=detail)


@transaction.atomic
def trial_extend(*, tenant: Tenant, days: int, actor) -> BillingAccount:
    """Give a tenant ``days`` more trial from the later of now and its current trial end;
    a tenant suspended because its trial ran out is back in trial."""
    if not 1 <= days <= 90:
        raise ValidationError(_("Extend a trial by 1 to 90 days."), code="days")
    if tenant.status not in (Tenant.Status.TRIAL, Tenant.Status.SUSPENDED):
        raise ValidationError(
            _("Only a tenant in trial (or suspended after its trial) can get more trial."),
            code="not_trial",
        )
    # Without an account yet, the extension counts from now, not from a default trial.
    BillingAccount.objects.get_or_create(tenant=tenant, defaults={"plan": plan_default()})
    account = BillingAccount.objects.select_for_update().get(tenant=tenant)
    start = max(clock.now(), account.trial_ends_at or clock.now())
    account.trial_ends_at = start + timedelta(days=days)
    if tenant.status == Tenant.Status.SUSPENDED:
        if not account.billing_hold:
            raise ValidationError(
                _("This tenant was suspended by staff; reactivate it instead."), code="held"
            )
        account.billing_hold = False
        tenant_set_status(tenant=tenant, status=Tenant.Status.TRIAL, actor=actor,
                          reason="trial extended")  # fmt: skip
    account.save(update_fields=["trial_ends_at", "billing_hold"])
    _audit(actor, tenant, BillingAuditEntry.Action.TRIAL_EXTENDED, days=days,
           until=account.trial_ends_at.isoformat())  # fmt: skip
    return account


@transaction.atomic
def plan_comp(*, tenant: Tenant, plan: Plan, actor, note: str = "") -> BillingAccount:
    """Give a tenant a plan free of charge: active, whatever Stripe says, until the comp
    ends."""
    account = account_ensure(tenant)
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    previous = account.plan.code if account.plan else ""
    account.plan = plan
    account.comped = True
    account.grace_ends_at = None
    account.billing_hold = False
    account.save(update_fields=["plan", "comped", "grace_ends_at", "billing_hold"])
    if tenant.status != Tenant.Status.ACTIVE:
        tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE, actor=actor,
                          reason="plan comped")  # fmt: skip
    _audit(actor, tenant, BillingAuditEntry.Action.PLAN_COMPED, plan=plan.code,
           previous=previous, note=note[:200])  # fmt: skip
    return account


@transaction.atomic
def comp_end(*, tenant: Tenant, actor) -> BillingAccount:
    """End a comp: the tenant pays again. Without a paying subscription it gets a short
    trial to subscribe in rather than being cut off at once."""
    account = BillingAccount.objects.select_for_update().get(tenant=tenant)
    if not account.comped:
        raise ValidationError(_("This tenant's plan is not comped."), code="not_comped")
    account.comped = False
    paying = account.subscriptions.filter(status__in=("active", "trialing")).exists()
    if not paying:
        account.trial_ends_at = clock.now() + timedelta(days=settings.BILLING_GRACE_DAYS)
        tenant_set_status(tenant=tenant, status=Tenant.Status.TRIAL, actor=actor,
                          reason="comp ended")  # fmt: skip
    account.save(update_fields=["comped", "trial_ends_at"])
    _audit(actor, tenant, BillingAuditEntry.Action.COMP_ENDED, paying=paying)
    return account


@transaction.atomic
def console_suspend(*, tenant: Tenant, actor, reason: str = "") -> None:

    BillingAccount.objects.filter(tenant=tenant).update(billing_hold=False)
    tenant_suspend(tenant=tenant, actor=actor, reason=reason)
    _audit(actor, tenant, BillingAuditEntry.Action.SUSPENDED, reason=reason[:200])


@transaction.atomic
def console_reactivate(*, tenant: Tenant, actor) -> None:

    BillingAccount.objects.filter(tenant=tenant).update(billing_hold=False, grace_ends_at=None)
    tenant_reactivate(tenant=tenant, actor=actor)
    _audit(actor, tenant, BillingAuditEntry.Action.REACTIVATED)


def stripe_customer_url(account: BillingAccount) -> str:
    test = "test/" if settings.STRIPE_SECRET_KEY.startswith("sk_test_") else ""
    return f"{settings.STRIPE_DASHBOARD_URL}/{test}customers/{account.stripe_customer_id}"


def stripe_customer_open(*, tenant: Tenant, actor) -> str:
    """The Stripe dashboard page of the tenant's customer; the look is audit-logged."""
    account = BillingAccount.objects.filter(tenant=tenant).first()
    if account is None or not account.stripe_customer_id:
        raise ValidationError(_("This tenant has no Stripe customer yet."), code="no_customer")
    _audit(actor, tenant, BillingAuditEntry.Action.STRIPE_OPENED,
           customer=account.stripe_customer_id)  # fmt: skip
    return stripe_customer_url(account)


# --- Plans ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlanValues:
    """A plan as the console's form checked it (billing.forms.PlanForm). ``None`` as a
    limit is unlimited."""

    code: str
    name: str
    description: str = ""
    currency: str = "cny"
    monthly_price: Decimal
    yearly_price: Decimal
    stripe_price_monthly: str = ""
    stripe_price_yearly: str = ""
    staff_seats: int | None = None
    encounters_per_month: int | None = None
    sms_per_month: int | None = None
    storage_gb: int | None = None
    api_access: bool = False
    webhooks: bool = False
    custom_domain: bool = False
    audit_tier3: bool = False
    pdf_export: bool = False
    public: bool = True
    is_default: bool = False
    position: int = 0


@transaction.atomic
def plan_save(*, plan_id: int | None, values: PlanValues, actor) -> Plan:
    """Save a plan (a new one when ``plan_id`` is None) from checked values; at most one
    plan is the trial plan."""
    plan = Plan.objects.get(pk=plan_id) if plan_id is not None else Plan()
    for name in (f.name for f in fields(PlanValues)):
        setattr(plan, name, getattr(values, name))
    plan.save()
    if plan.is_default:
        Plan.objects.exclude(pk=plan.pk).filter(is_default=True).update(is_default=False)
    BillingAuditEntry.objects.create(
        actor=actor, tenant=None, action=BillingAuditEntry.Action.PLAN_SAVED,
        detail={"plan": plan.code},
    )  # fmt: skip
    return plan

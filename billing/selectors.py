"""Reads of billing: the pricing page, a tenant's billing page and the vendor console."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch

from tenants.models import Tenant
from tenants.selectors import tenant_console_list

from .entitlements import Allowance, period_start, plan_default, usage_summary
from .models import BillingAccount, BillingAuditEntry, Plan, Subscription, UsageMeter


def plans_public():
    return Plan.objects.filter(public=True)


def account_mrr(account: BillingAccount | None, status: str) -> Decimal:
    """Monthly recurring revenue of one tenant: its plan's monthly price (a twelfth of the
    yearly one) while it pays; nothing in trial, when comped or suspended."""
    if account is None or account.comped or account.plan is None:
        return Decimal("0.00")
    if status not in (Tenant.Status.ACTIVE, Tenant.Status.PAST_DUE):
        return Decimal("0.00")
    if account.interval == BillingAccount.Interval.YEAR:
        return (account.plan.yearly_price / 12).quantize(Decimal("0.01"))
    return account.plan.monthly_price


def subscription_current(account: BillingAccount | None) -> Subscription | None:
    if account is None:
        return None
    return account.subscriptions.select_related("plan").first()


@dataclass
class ConsoleRow:
    tenant: Tenant
    account: BillingAccount | None
    plan: Plan | None
    mrr: Decimal
    usage: list[Allowance] = field(default_factory=list)


def billing_console_rows() -> tuple[list[ConsoleRow], Decimal]:
    """Every tenant with plan, status, MRR, this month's usage and trial end, in a handful
    of queries whatever the number of tenants; and the total MRR."""
    tenants = tenant_console_list()
    accounts = {
        a.tenant_id: a
        for a in BillingAccount.objects.select_related("plan").filter(
            tenant_id__in=[t.pk for t in tenants]
        )
    }
    meters: dict[int, dict[str, int]] = {}
    for tenant_id, metric, used in UsageMeter.objects.filter(period=period_start()).values_list(
        "tenant_id", "metric", "used"
    ):
        meters.setdefault(tenant_id, {})[metric] = used
    default = plan_default()
    rows = []
    for tenant in tenants:
        account = accounts.get(tenant.pk)
        plan = account.plan if account and account.plan else default
        rows.append(
            ConsoleRow(
                tenant=tenant,
                account=account,
                plan=plan,
                mrr=account_mrr(account, tenant.status),
                usage=usage_summary(
                    tenant,
                    active_seats=tenant.user_count,
                    plan=plan,
                    meters=meters.get(tenant.pk, {}),
                ),
            )
        )
    return rows, sum((row.mrr for row in rows), Decimal("0.00"))


def billing_console_detail(tenant: Tenant) -> dict:
    account = (
        BillingAccount.objects.select_related("plan")
        .prefetch_related(Prefetch("subscriptions", Subscription.objects.select_related("plan")))
        .filter(tenant=tenant)
        .first()
    )
    return {
        "account": account,
        "subscriptions": list(account.subscriptions.all()) if account else [],
        "events": list(account.events.all()[:20]) if account else [],
        "audit": list(BillingAuditEntry.objects.filter(tenant=tenant).select_related("actor")[:20]),
        "mrr": account_mrr(account, tenant.status),
    }


def billing_audit_recent(limit: int = 20):
    return BillingAuditEntry.objects.select_related("actor", "tenant")[:limit]

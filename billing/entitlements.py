"""The one place that answers "may this tenant do X, and how much is left?".

Every feature asks here instead of reading plans itself:

* staff seats: ``seats_check`` before an invitation or a reactivation (crm.services.staff);
* encounters per month: ``usage_reserve(tenant, "encounters", n)`` when new encounters are
  recorded (crm.services.records, crm.services.import_jobs). Over the limit, intake pauses:
  a new encounter is refused with a clear message (an import rejects the rows beyond the
  allowance, each with that message, and commits the rest), corrections of existing
  encounters keep working, and the rejected rows can be imported again next month or after
  an upgrade (external ids make that idempotent);
* SMS per month: the outbox calls ``sms_allowance(tenant)`` before sending and
  ``usage_record(tenant, "sms", n)`` for what it sent. Over the limit, messages stay queued
  until the next month or an upgrade;
* features: ``feature_allowed(tenant, "audit_tier3")`` decides whether completed centre
  follow-ups are sampled for tier-3 spot checks (crm.services.followup); API access,
  outbound webhooks, custom domain and PDF export are for those features to ask as they
  are built (``feature_allowed(tenant, "api_access")``).

A month is a calendar month in UTC. Meters live in the public schema (one row per tenant,
metric and month), so the vendor console reads every tenant's usage in one query."""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saas import clock
from tenants.models import Tenant

from .models import BillingAccount, Plan, UsageMeter

Metric = UsageMeter.Metric
FEATURES = ("api_access", "webhooks", "custom_domain", "audit_tier3", "pdf_export")
_LIMIT_FIELD = {Metric.ENCOUNTERS: "encounters_per_month", Metric.SMS: "sms_per_month"}


def period_start(now: datetime | None = None) -> date:
    now = (now or clock.now()).astimezone(UTC)
    return date(now.year, now.month, 1)


def next_period_start(now: datetime | None = None) -> date:
    start = period_start(now)
    days = calendar.monthrange(start.year, start.month)[1]
    return date.fromordinal(start.toordinal() + days)


def plan_default() -> Plan | None:
    return Plan.objects.filter(is_default=True).first()


def account_of(tenant: Tenant) -> BillingAccount | None:
    return BillingAccount.objects.select_related("plan").filter(tenant_id=tenant.pk).first()


def plan_of(tenant: Tenant) -> Plan | None:
    """The tenant's plan; a tenant without a billing account (made before billing existed,
    or by the console) is held to the trial plan. ``None``: no plans at all, no limits."""
    account = account_of(tenant)
    if account is not None and account.plan is not None:
        return account.plan
    return plan_default()


def limit_of(plan: Plan | None, metric: str) -> int | None:
    return None if plan is None else getattr(plan, _LIMIT_FIELD[metric])


def feature_allowed(tenant: Tenant, feature: str) -> bool:
    if feature not in FEATURES:
        raise ValueError(f"Unknown feature {feature!r}")
    plan = plan_of(tenant)
    return plan is None or getattr(plan, feature)


# --- Seats ------------------------------------------------------------------------------


def seats_check(tenant: Tenant, *, active_seats: int, adding: int = 1) -> None:
    """Refuse, with a message an administrator can act on, to go past the plan's seats."""
    plan = plan_of(tenant)
    if plan is None or plan.staff_seats is None:
        return
    if active_seats + adding > plan.staff_seats:
        raise ValidationError(
            _(
                "Your plan %(plan)s includes %(seats)s staff seats and all of them are in use. "
                "Deactivate a staff member or upgrade the plan on the Billing page."
            )
            % {"plan": plan.name, "seats": plan.staff_seats},
            code="seat_limit",
        )


# --- Monthly meters ---------------------------------------------------------------------


def usage_used(tenant: Tenant, metric: str, *, now: datetime | None = None) -> int:
    meter = UsageMeter.objects.filter(
        tenant_id=tenant.pk, metric=metric, period=period_start(now)
    ).first()
    return meter.used if meter else 0


def _meter_locked(tenant: Tenant, metric: str, period: date) -> UsageMeter:
    UsageMeter.objects.bulk_create(
        [UsageMeter(tenant_id=tenant.pk, metric=metric, period=period)], ignore_conflicts=True
    )
    return UsageMeter.objects.select_for_update().get(
        tenant_id=tenant.pk, metric=metric, period=period
    )


def usage_reserve(tenant: Tenant, metric: str, n: int, *, now: datetime | None = None) -> int:
    """Take up to ``n`` units of this month's allowance and return how many were granted
    (``n`` when unlimited, 0 when used up). Runs in the caller's transaction: if the work
    that needed the units is rolled back, so is the reservation."""
    if n <= 0:
        return 0
    limit = limit_of(plan_of(tenant), metric)
    with transaction.atomic():
        meter = _meter_locked(tenant, metric, period_start(now))
        granted = n if limit is None else max(0, min(n, limit - meter.used))
        if granted:
            meter.used += granted
            meter.save(update_fields=["used"])
    return granted


def usage_release(tenant: Tenant, metric: str, n: int, *, now: datetime | None = None) -> None:
    """Give back units reserved but not used (e.g. import rows that turned out to be
    updates of known encounters)."""
    if n <= 0:
        return
    with transaction.atomic():
        meter = _meter_locked(tenant, metric, period_start(now))
        meter.used = max(0, meter.used - n)
        meter.save(update_fields=["used"])


def usage_record(tenant: Tenant, metric: str, n: int = 1, *, now: datetime | None = None) -> int:
    """Count ``n`` units that were used (an SMS that went out), limit or not; return this
    month's total. The sender asks ``sms_allowance`` first."""
    with transaction.atomic():
        meter = _meter_locked(tenant, metric, period_start(now))
        meter.used += n
        meter.save(update_fields=["used"])
    return meter.used


def usage_left(tenant: Tenant, metric: str, *, now: datetime | None = None) -> int | None:
    """Units left this month; ``None`` when the plan has no limit."""
    limit = limit_of(plan_of(tenant), metric)
    if limit is None:
        return None
    return max(0, limit - usage_used(tenant, metric, now=now))


def sms_allowance(tenant: Tenant, *, now: datetime | None = None) -> int | None:
    """How many SMS the outbox may still send this month (``None``: no limit). Messages
    beyond it stay queued until the next month or an upgrade."""
    return usage_left(tenant, Metric.SMS, now=now)


def encounter_limit_error(tenant: Tenant, *, now: datetime | None = None) -> ValidationError:
    plan = plan_of(tenant)
    return ValidationError(
        _(
            "This month's allowance of %(limit)s new encounters on the %(plan)s plan is used "
            "up. New encounters can be recorded again from %(date)s, or at once after an "
            "upgrade; corrections to existing encounters still work."
        )
        % {
            "limit": limit_of(plan, Metric.ENCOUNTERS),
            "plan": plan.name if plan else "",
            "date": formats.date_format(next_period_start(now), "SHORT_DATE_FORMAT"),
        },
        code="encounter_limit",
    )


# --- What the tenant admin and the console show -----------------------------------------


@dataclass(frozen=True)
class Allowance:
    key: str
    label: str
    used: int
    limit: int | None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(100 * self.used / self.limit))


SEATS_LABEL = gettext_lazy("Staff seats")
STORAGE_LABEL = gettext_lazy("Database storage (MB)")
MB = 1024 * 1024


def storage_used_mb(tenant: Tenant) -> int:
    """Size of the tenant's schema (tables, indexes, TOAST), in MB rounded up. Shown against
    the plan's storage, not enforced: uploaded files are not counted yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            [tenant.schema_name],
        )
        size = cursor.fetchone()[0]
    return -(-int(size) // MB)


def usage_summary(
    tenant: Tenant,
    *,
    active_seats: int,
    plan: Plan | None = None,
    meters: dict[str, int] | None = None,
    storage: bool = False,
) -> list[Allowance]:
    """Seats and this month's meters against the plan's limits, and with ``storage`` the
    schema's size. The console's list passes the plan and meters it already loaded for every
    tenant at once (and leaves out storage, which costs a catalog scan per tenant)."""
    plan = plan if plan is not None else plan_of(tenant)
    if meters is None:
        meters = dict(
            UsageMeter.objects.filter(tenant_id=tenant.pk, period=period_start()).values_list(
                "metric", "used"
            )
        )
    found = [
        Allowance("seats", str(SEATS_LABEL), active_seats, plan.staff_seats if plan else None),
        *(Allowance(m.value, str(m.label), meters.get(m, 0), limit_of(plan, m)) for m in Metric),
    ]
    if storage:
        limit = plan.storage_gb * 1024 if plan and plan.storage_gb is not None else None
        found.append(Allowance("storage", str(STORAGE_LABEL), storage_used_mb(tenant), limit))
    return found


@dataclass(frozen=True)
class Banner:
    level: str  # "warning" or "danger"
    text: str


def banners(
    tenant: Tenant, *, billing_admin: bool = True, now: datetime | None = None
) -> list[Banner]:
    """What every page of a tenant says about its subscription and allowances: payment
    overdue (during grace) and monthly allowances used up, to everyone; the end of a trial
    only to those who can subscribe (``billing_admin``)."""
    now = now or clock.now()
    account = account_of(tenant)
    found = []
    if tenant.status == Tenant.Status.PAST_DUE:
        grace = account.grace_ends_at if account else None
        found.append(
            Banner(
                "danger",
                _(
                    "The last payment for CareBridge failed. Everything keeps working until "
                    "%(date)s; please update the payment method on the Billing page."
                )
                % {"date": formats.date_format(timezone.localtime(grace), "SHORT_DATE_FORMAT")}
                if grace
                else _("The last payment for CareBridge failed. Please update the payment "
                       "method on the Billing page."),
            )
        )  # fmt: skip
    elif (
        billing_admin and tenant.status == Tenant.Status.TRIAL and account and account.trial_ends_at
    ):
        found.append(
            Banner(
                "warning",
                _("Trial until %(date)s. Subscribe on the Billing page to keep working.")
                % {
                    "date": formats.date_format(
                        timezone.localtime(account.trial_ends_at), "SHORT_DATE_FORMAT"
                    )
                },
            )
        )
    plan = account.plan if account and account.plan else plan_default()
    meters = dict(
        UsageMeter.objects.filter(tenant_id=tenant.pk, period=period_start(now)).values_list(
            "metric", "used"
        )
    )
    resume = formats.date_format(next_period_start(now), "SHORT_DATE_FORMAT")
    encounters = limit_of(plan, Metric.ENCOUNTERS)
    if encounters is not None and meters.get(Metric.ENCOUNTERS, 0) >= encounters:
        found.append(
            Banner(
                "warning",
                _(
                    "This month's %(limit)s new encounters are used up: intake is paused until "
                    "%(date)s (or an upgrade). Corrections to existing encounters still work."
                )
                % {"limit": encounters, "date": resume},
            )
        )
    sms = limit_of(plan, Metric.SMS)
    if sms is not None and meters.get(Metric.SMS, 0) >= sms:
        found.append(
            Banner(
                "warning",
                _(
                    "This month's %(limit)s SMS are used up: new messages wait in the outbox "
                    "until %(date)s (or an upgrade)."
                )
                % {"limit": sms, "date": resume},
            )
        )
    return found

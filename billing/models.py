"""Plans, each tenant's billing account, the local mirror of its Stripe subscription, the
webhook log, monthly usage meters and the console's billing audit trail. All public schema:
billing is the vendor's business, and the console reads it across tenants."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from saas.appendonly import AppendOnlyModel
from tenants.models import Tenant


class Plan(models.Model):
    """What a tenant may use and what it costs. ``None`` as a limit means unlimited. Prices
    are shown on the pricing page and give the MRR; Stripe charges by the price ids."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, default="cny")
    monthly_price = models.DecimalField(_("monthly price"), max_digits=10, decimal_places=2)
    yearly_price = models.DecimalField(_("yearly price"), max_digits=10, decimal_places=2)
    stripe_price_monthly = models.CharField(
        _("Stripe price id (monthly)"), max_length=100, blank=True, default=""
    )
    stripe_price_yearly = models.CharField(
        _("Stripe price id (yearly)"), max_length=100, blank=True, default=""
    )
    staff_seats = models.PositiveIntegerField(_("staff seats"), null=True, blank=True)
    encounters_per_month = models.PositiveIntegerField(
        _("encounters per month"), null=True, blank=True
    )
    sms_per_month = models.PositiveIntegerField(_("SMS per month"), null=True, blank=True)
    storage_gb = models.PositiveIntegerField(_("storage (GB)"), null=True, blank=True)
    api_access = models.BooleanField(_("API access"), default=False)
    webhooks = models.BooleanField(_("outbound webhooks"), default=False)
    custom_domain = models.BooleanField(_("custom domain"), default=False)
    audit_tier3 = models.BooleanField(_("tier-3 spot-check audit"), default=False)
    pdf_export = models.BooleanField(_("PDF export"), default=False)
    public = models.BooleanField(
        _("on the pricing page"), default=True, help_text=_("Unticked: only comped by staff.")
    )
    is_default = models.BooleanField(
        _("trial plan"), default=False, help_text=_("The plan a new sign-up tries.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "monthly_price", "code"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self) -> str:
        return self.name


class BillingAccount(models.Model):
    """A tenant as a customer of CareBridge: its plan, trial, Stripe customer and whether the
    plan is comped. The tenant's status (trial/active/past_due/suspended) stays on Tenant."""

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")
        YEAR = "year", _("Yearly")

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="billing")
    plan = models.ForeignKey(Plan, null=True, on_delete=models.PROTECT, related_name="+")
    interval = models.CharField(max_length=5, choices=Interval.choices, default=Interval.MONTH)
    trial_ends_at = models.DateTimeField(_("trial ends"), null=True, blank=True)
    grace_ends_at = models.DateTimeField(_("grace period ends"), null=True, blank=True)
    # Set when billing (not vendor staff) suspended the tenant: only then does a payment
    # lift the suspension.
    billing_hold = models.BooleanField(default=False)
    comped = models.BooleanField(_("comped"), default=False)
    # Creation time of the newest Stripe event that decided the status: older ones arriving
    # late are ignored.
    status_event_at = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("billing account")
        verbose_name_plural = _("billing accounts")

    def __str__(self) -> str:
        return f"{self.tenant} ({self.plan})"


class Subscription(models.Model):
    """The local mirror of a Stripe subscription, kept by webhooks. ``event_at`` is the
    creation time of the newest event applied: an older event arriving late is ignored."""

    account = models.ForeignKey(
        BillingAccount, on_delete=models.CASCADE, related_name="subscriptions"
    )
    stripe_id = models.CharField(max_length=100, unique=True)
    status = models.CharField(_("status"), max_length=30)
    price_id = models.CharField(max_length=100, blank=True, default="")
    plan = models.ForeignKey(Plan, null=True, on_delete=models.SET_NULL, related_name="+")
    interval = models.CharField(max_length=5, blank=True, default="")
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    event_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-event_at"]

    def __str__(self) -> str:
        return self.stripe_id


class WebhookEvent(models.Model):
    """Every verified Stripe event, stored by its id before anything is done with it: a
    redelivery finds it here, and ``processed_at`` says it took effect (exactly once)."""

    stripe_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField()
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    deliveries = models.PositiveIntegerField(default=1)
    processed_at = models.DateTimeField(null=True, blank=True)
    account = models.ForeignKey(
        BillingAccount, null=True, on_delete=models.SET_NULL, related_name="events"
    )
    outcome = models.CharField(max_length=200, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class UsageMeter(models.Model):
    """How much of a monthly allowance a tenant used in one calendar month (UTC)."""

    class Metric(models.TextChoices):
        ENCOUNTERS = "encounters", _("Encounters")
        SMS = "sms", _("SMS")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    period = models.DateField(help_text="First day of the month.")
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "metric", "period"], name="one_meter")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.metric} {self.period:%Y-%m}: {self.used}"


class BillingAuditEntry(AppendOnlyModel):
    """Who in the vendor team changed a tenant's billing (trial, plan, status), and when.
    Append-only: a trigger refuses UPDATE and DELETE (migration 0003)."""

    class Action(models.TextChoices):
        TRIAL_EXTENDED = "trial_extended", _("Trial extended")
        PLAN_COMPED = "plan_comped", _("Plan comped")
        COMP_ENDED = "comp_ended", _("Comp ended")
        SUSPENDED = "suspended", _("Suspended")
        REACTIVATED = "reactivated", _("Reactivated")
        STRIPE_OPENED = "stripe_opened", _("Stripe customer opened")
        PLAN_SAVED = "plan_saved", _("Plan saved")

    # Not database constraints, and deleting a user or a tenant leaves these rows alone
    # (SET_NULL would UPDATE them, which the append-only trigger refuses): a row keeps the ids.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    tenant = models.ForeignKey(
        Tenant, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.tenant_id}"

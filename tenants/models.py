"""Tenants (clinics, hospitals, service businesses) and the hosts that route to them."""

import functools
import re
import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from saas.appendonly import AppendOnlyModel


def default_calling_hours() -> list[list[str]]:
    return [["08:00", "12:00"], ["13:30", "17:30"]]


def default_message_hours() -> list[list[str]]:
    return [["08:00", "21:00"]]


@functools.cache
def _known_timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk: ~40 ms a call.
    return frozenset(zoneinfo.available_timezones())


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(_known_timezones())]


def validate_timezone(value: str) -> None:
    if value not in _known_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


END_OF_DAY = "24:00"
# DESIGN.md §9: patient data is kept two years by default; a clinic may choose 1 to 30.
DEFAULT_RETENTION_YEARS = 2
MAX_RETENTION_YEARS = 30
MAX_SURVEY_INTERVAL_DAYS = 730
MAX_SURVEY_REMINDER_DAYS = 30


def hours_interval(start: str, end: str) -> tuple[time, time | None]:
    """["08:00", "12:00"] → (08:00, 12:00). An end of "24:00" is midnight at the end of the
    day (None), so ["00:00", "24:00"] is the whole day: "23:59" would leave its last minute
    out."""
    return time.fromisoformat(start), None if end == END_OF_DAY else time.fromisoformat(end)


def validate_calling_hours(value) -> None:
    """A list of [start, end] pairs of "HH:MM" times, each start before its end ("24:00"
    ends at midnight)."""
    message = _('Calling hours must be a list of [start, end] times such as ["08:00", "12:00"].')
    if not isinstance(value, list):
        raise ValidationError(message)
    for interval in value:
        if not (isinstance(interval, list) and len(interval) == 2):
            raise ValidationError(message)
        try:
            start, end = hours_interval(*interval)
        except (TypeError, ValueError) as exc:
            raise ValidationError(message) from exc
        if end is not None and start >= end:
            raise ValidationError(_("Each calling-hours interval must start before it ends."))


CALLER_NUMBER = re.compile(r"^\+?[0-9][0-9 -]{2,30}$")


def validate_caller_number(value: str) -> None:
    if value and not CALLER_NUMBER.match(value):
        raise ValidationError(
            _("Write the number as patients see it: digits, spaces or dashes, e.g. 010-6512 3456.")
        )


def validate_phone_region(value: str) -> None:
    import phonenumbers

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            _("%(value)s is not a country code such as CN or US."), params={"value": value}
        )


class ChannelOrder(models.TextChoices):
    """The orders a clinic may choose for automatic messages; a step that asks for SMS never
    falls back to email, and one that asks for email is sent by email."""

    WECHAT_SMS_EMAIL = "wechat,sms,email", _("WeChat, then SMS, then email")
    SMS_WECHAT_EMAIL = "sms,wechat,email", _("SMS, then WeChat, then email")
    SMS_EMAIL = "sms,email", _("SMS, then email (no WeChat)")


class LiveTenantManager(models.Manager):
    """Tenants whose schema exists. The default manager, so that every loop over clinics
    (ticks, migrate_schemas, the console's staff counts, role syncs) leaves out the
    tombstones of deleted ones; ``Tenant.everything`` includes them."""

    def get_queryset(self):
        return super().get_queryset().exclude(status=Tenant.Status.DELETED)


class Tenant(TenantMixin):
    """One customer of CareBridge. ``schema_name`` is the tenant's slug: it names the
    PostgreSQL schema and the subdomain ``<slug>.BASE_DOMAIN``."""

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("Hospital")
        AESTHETIC = "aesthetic", _("Aesthetic clinic")
        DENTAL = "dental", _("Dental clinic")
        SERVICE = "service", _("Service business")

    class Status(models.TextChoices):
        TRIAL = "trial", _("Trial")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        SUSPENDED = "suspended", _("Suspended")
        # A tombstone: the schema, files and domains are gone, the row keeps the history.
        DELETED = "deleted", _("Deleted")

    class Locale(models.TextChoices):
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.HOSPITAL)
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    locale = models.CharField(
        _("language"), max_length=10, choices=Locale.choices, default=Locale.ZH_HANS
    )
    calling_hours = models.JSONField(
        _("calling hours"),
        default=default_calling_hours,
        validators=[validate_calling_hours],
        help_text=_("Intervals [start, end] in the tenant's time zone, e.g. 08:00–12:00."),
    )
    phone_region = models.CharField(
        _("phone region"),
        max_length=2,
        default="CN",
        validators=[validate_phone_region],
        help_text=_("Country of phone numbers written without a country code, e.g. CN."),
    )
    spot_check_percent = models.PositiveSmallIntegerField(
        _("spot-check share (%)"),
        default=10,
        validators=[MaxValueValidator(100)],
        help_text=_("Share of completed centre follow-ups that supervisors re-call."),
    )
    message_hours = models.JSONField(
        _("message hours"),
        default=default_message_hours,
        validators=[validate_calling_hours],
        help_text=_(
            "Automatic SMS and emails are sent only inside these hours; outside them they wait."
        ),
    )
    # Named in the SMS sent before a follow-up's first call (DESIGN.md §7a.3): a patient who
    # knows the number picks up instead of hanging up on a suspected scam.
    caller_number = models.CharField(
        _("number we call from"),
        max_length=32,
        blank=True,
        validators=[validate_caller_number],
        help_text=_(
            "Shown to patients in the SMS before the first call. Empty: no such SMS is sent."
        ),
    )
    # Complaint clocks count working days (crm.workdays): public holidays and make-up working
    # days of mainland China when phone_region is CN, weekends only elsewhere. The reply time
    # was in calendar days before: the migration that changed it turned 7 into 5 working days.
    complaint_ack_days = models.PositiveSmallIntegerField(
        _("acknowledge complaints within (working days)"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    complaint_reply_days = models.PositiveSmallIntegerField(
        _("reply to complaints within (working days)"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
    )
    # Our own limits per phone number, before the provider's: a misconfigured rule must not
    # flood a patient or use up the clinic's allowance (crm.services.outbox).
    sms_per_number_day = models.PositiveSmallIntegerField(
        _("SMS to one number in 24 hours, at most"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
    )
    sms_per_number_month = models.PositiveSmallIntegerField(
        _("SMS to one number in 30 days, at most"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    # Which channel an automatic message tries first, and then (DESIGN.md §7a.9). WeChat is
    # taken only for a contact linked to the clinic's Official Account who still follows it
    # (crm.services.channels).
    channel_order = models.CharField(
        _("channel order for automatic messages"),
        max_length=40,
        choices=ChannelOrder.choices,
        default=ChannelOrder.WECHAT_SMS_EMAIL,
    )
    # Survey fatigue (DESIGN.md §7a.8): a contact asked too often stops answering, and the
    # satisfaction figures then speak for the few who still do.
    survey_interval_days = models.PositiveSmallIntegerField(
        _("one survey per contact every (days), at most"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SURVEY_INTERVAL_DAYS)],
        help_text=_(
            "A follow-up message to a contact sent a survey more recently goes without one."
        ),
    )
    survey_reminder_days = models.PositiveSmallIntegerField(
        _("remind those who have not answered after (days)"),
        default=3,
        validators=[MaxValueValidator(MAX_SURVEY_REMINDER_DAYS)],
        help_text=_("One reminder, while the link is still valid; 0: no reminder."),
    )
    retention_years = models.PositiveSmallIntegerField(
        _("keep patient data for (years)"),
        null=True,
        blank=True,
        default=DEFAULT_RETENTION_YEARS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_YEARS)],
        help_text=_(
            "Contacts are anonymised this many years after their last encounter. Empty: "
            "kept until deleted (for a clinic that must keep its own records longer)."
        ),
    )
    # The clinic's local day of its last complete retention pass: the tick runs it once a day.
    retention_ran_on = models.DateField(null=True, blank=True)
    # Administrators and supervisors always sign in with a second step; this extends it to
    # every role (saas.two_step.two_step_required).
    require_two_step = models.BooleanField(
        _("require two-step sign-in for all staff"),
        default=False,
        help_text=_(
            "Administrators and supervisors always need a code from their phone; with this, "
            "agents, clinicians and viewers need one too."
        ),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.TRIAL
    )
    # Offboarding: when vendor staff closed the clinic, and when its data goes for good
    # (tenants.offboarding). Both empty for a clinic that is not closing.
    closing_at = models.DateTimeField(_("closing since"), null=True, blank=True)
    delete_after = models.DateTimeField(_("deleted after"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), auto_now_add=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # What a release last brought this clinic's schema to (tenants.schemas.migration_
    # fingerprint) and what it was last given after migrating (sync_fingerprint): a release
    # skips a clinic already at the code's state (tenants.release). Empty: unknown, do it.
    schema_fingerprint = models.CharField(max_length=64, blank=True, default="")
    sync_fingerprint = models.CharField(max_length=64, blank=True, default="")

    objects = LiveTenantManager()
    everything = models.Manager()

    # Schemas are made by tenants.services.tenant_provision (clone of the template schema,
    # migrations as fallback) inside one transaction, not by save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return self.name

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED

    @property
    def is_closing(self) -> bool:
        return self.delete_after is not None and self.status != self.Status.DELETED

    @property
    def is_deleted(self) -> bool:
        return self.status == self.Status.DELETED

    @property
    def primary_host(self) -> str:
        return f"{self.schema_name}.{settings.BASE_DOMAIN}"


class Domain(DomainMixin):
    """A host name routed to a tenant: ``<slug>.BASE_DOMAIN`` or the clinic's own domain."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")


class TemplateSchema(models.Model):
    """The fully migrated schema new tenants are copied from, the migration state it was
    last brought to, and the script that copies it (tenants.ddl): a copy is only made while
    that state equals the code's."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_fingerprint = models.CharField(max_length=64)
    starter_fingerprint = models.CharField(max_length=64, blank=True, default="")
    ddl = models.TextField(blank=True, default="")
    ddl_fingerprint = models.CharField(max_length=64, blank=True, default="")
    migrated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.schema_name


class PooledSchema(models.Model):
    """A schema copied from the template ahead of time, waiting to be claimed by renaming it
    to a new tenant's slug, so self-service sign-up does not wait for a copy."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_fingerprint = models.CharField(max_length=64)
    # The template's script it was made by (TemplateSchema.ddl_fingerprint): schemas made
    # otherwise, e.g. by the clone_schema() of earlier releases, are discarded.
    ddl_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.schema_name


class ConsoleAuditEntry(AppendOnlyModel):
    """Who in the vendor team did what to which tenant, and when; and the vendor console's
    sign-ins. Append-only: a trigger refuses UPDATE and DELETE (migration 0005)."""

    class Action(models.TextChoices):
        TENANT_CREATED = "tenant_created", _("Tenant created")
        STATUS_CHANGED = "status_changed", _("Status changed")
        DOMAIN_ADDED = "domain_added", _("Domain added")
        DOMAIN_REMOVED = "domain_removed", _("Domain removed")
        SIGNED_IN = "signed_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Failed to sign in")
        SIGNED_OUT = "signed_out", _("Signed out")
        CLOSING_STARTED = "closing_started", _("Clinic closing: exported and suspended")
        CLOSING_CANCELLED = "closing_cancelled", _("Clinic closing cancelled")
        EXPORT_DOWNLOADED = "export_downloaded", _("Closing export downloaded")
        TENANT_DELETED = "tenant_deleted", _("Clinic deleted")

    # Not database constraints, and deleting a user or a tenant leaves these rows alone
    # (SET_NULL would UPDATE them, which the trigger refuses): a row keeps the ids.
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
    action = models.CharField(max_length=50, choices=Action.choices)
    detail = models.JSONField(default=dict, blank=True)
    # Sign-ins only: personal data (PIPL), kept here for the vendor's security review, never
    # written to a log.
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.tenant_id} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def new_status_label(self) -> str:
        """The translated status a status change moved to, or ''."""
        to = self.detail.get("to")
        return Tenant.Status(to).label if to in Tenant.Status.values else ""


class ClinicBacklog(models.Model):
    """How much work is waiting in one clinic, as its last follow-up tick counted it. Kept
    in public so that /metrics reads every clinic's figures in one query instead of one per
    schema; counts only, nothing about patients."""

    tenant = models.OneToOneField(
        Tenant,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="backlog",
        verbose_name=_("tenant"),
    )
    outbox_queued = models.PositiveIntegerField(_("queued messages"), default=0)
    webhooks_retrying = models.PositiveIntegerField(_("webhook deliveries retrying"), default=0)
    webhooks_failed = models.PositiveIntegerField(_("webhook deliveries failed"), default=0)
    followups_overdue = models.PositiveIntegerField(_("overdue follow-ups"), default=0)
    measured_at = models.DateTimeField(_("measured at"))

    class Meta:
        verbose_name = _("clinic backlog")
        verbose_name_plural = _("clinic backlogs")

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.measured_at:%Y-%m-%d %H:%M}"

"""What the integration API (crm.api) keeps in the tenant's schema: the clinic's API keys.

A key lives in the schema of the tenant that made it, so on another tenant's domain it is
simply not found: isolation comes from the schema, not from a check that could be forgotten."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A secret that a hospital information system (or a call-centre system) presents as
    ``Authorization: Bearer <key>``. Only its prefix (to find it) and the SHA-256 of the whole
    key (to check it) are stored; the key itself is shown once, when it is made."""

    class Scope(models.TextChoices):
        READ = "read", _("Read follow-ups and results")
        WRITE = "write", _("Push contacts and encounters, log attempts")
        REPORTS = "reports", _("Read reports")

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = ArrayField(
        models.CharField(max_length=10, choices=Scope.choices), verbose_name=_("scopes")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["revoked_at", "-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class WebhookEndpoint(models.Model):
    """A URL of the clinic's own systems that CareBridge calls when something happens. Each
    call is signed with the endpoint's secret (HMAC-SHA256 over the timestamp and the body),
    so the receiver can tell it comes from CareBridge and is not a replay."""

    class Event(models.TextChoices):
        FOLLOWUP_COMPLETED = "followup.completed", _("Follow-up completed")
        COMPLAINT_CREATED = "complaint.created", _("Complaint created")
        COMPLAINT_OVERDUE = "complaint.overdue", _("Complaint overdue")
        SURVEY_ANSWERED = "survey.answered", _("Survey answered")

    url = models.URLField(_("URL"), max_length=500)
    events = ArrayField(
        models.CharField(max_length=40, choices=Event.choices), verbose_name=_("events")
    )
    secret = models.CharField(max_length=64)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-active", "url", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint. Written in the transaction that causes
    the event, sent after it commits; a failure is retried with a growing delay and, after
    the last attempt, kept as failed: an administrator can send it again."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(_("event"), max_length=40, choices=WebhookEndpoint.Event.choices)
    event_id = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            # Failed deliveries stay (an administrator can send them again) and are counted
            # every tick for /metrics: the count reads these, not the whole history.
            models.Index(
                fields=["id"],
                condition=models.Q(status="failed"),
                name="webhook_delivery_failed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id}"

"""The outbox (DESIGN.md §4): every SMS, email and WeChat message to a contact is a row
written in the same transaction as what caused it, then sent by a worker. Inbound SMS
replies are kept too."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..fields import BlindIndexField, EncryptedCharField, EncryptedTextField
from .encounters import Contact
from .followup_tasks import FollowUpTask


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    WECHAT = "wechat", _("WeChat")


class Purpose(models.TextChoices):
    SURVEY = "survey", _("Survey invitation")
    SURVEY_SMS = "survey_sms", _("One-question satisfaction SMS")
    SURVEY_REMINDER = "survey_reminder", _("Survey reminder")
    FOLLOW_UP = "follow_up", _("Follow-up message")
    COMPLAINT_OVERDUE = "complaint_overdue", _("Overdue complaint (to supervisors)")
    PRE_NOTICE = "pre_notice", _("Notice before the first call")


class MessageTemplate(models.Model):
    """What a message of one purpose says, per channel and language. The body is a Django
    template over the variables of MESSAGE_VARIABLES (crm/message_templates.py)."""

    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(
        _("language"), max_length=10, choices=[("zh-hans", "简体中文"), ("en", "English")]
    )
    subject = models.CharField(_("subject (email)"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    # Template SMS providers (Alibaba Cloud, Tencent Cloud) send only templates they approved:
    # the approved template's code at that provider, and which of our variables fills each of
    # its variables. Checked against the provider when saved (services.sms_accounts).
    provider = models.CharField(max_length=20, blank=True)
    provider_template_code = models.CharField(
        _("provider's template code"), max_length=64, blank=True
    )
    provider_params = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["purpose", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "channel", "language"], name="message_template_once"
            )
        ]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.get_channel_display()} · {self.language}"


class Message(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    # A phone number or an email address, encrypted; an SMS reply finds its message by the
    # index of the number it came from.
    to = EncryptedCharField(_("to"), max_length=254)
    to_index = BlindIndexField(source="to", kind="phone")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    task = models.ForeignKey(
        FollowUpTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    # What the text was made of (JSON), for providers that send a template with parameters
    # rather than the text itself; encrypted, as it holds the contact's name and links.
    variables = EncryptedTextField(blank=True, default="")
    language = models.CharField(max_length=10, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # Quiet hours: not sent before this instant.
    send_after = models.DateTimeField(_("not before"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_id = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(
                fields=["send_after"],
                name="message_queued_idx",
                condition=models.Q(status="queued"),
            ),
            models.Index(fields=["provider_id"], name="message_provider_idx"),
            models.Index(fields=["to_index", "-created_at"], name="message_to_index_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk}"


class SmsAccount(models.Model):
    """The clinic's own SMS provider account. Without one, SMS go through the platform's
    provider (settings.SMS_API_BASE), or nowhere when that is unset. Secrets are encrypted
    and never shown again once saved."""

    class Provider(models.TextChoices):
        ALIYUN = "aliyun", _("Alibaba Cloud SMS")
        TENCENT = "tencent", _("Tencent Cloud SMS")
        TWILIO = "twilio", _("Twilio (or a Twilio-compatible API)")

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    key_id = EncryptedCharField(_("AccessKey ID / SecretId / Account SID"), max_length=128)
    key_secret = EncryptedCharField(_("AccessKey secret / SecretKey / auth token"), max_length=256)
    app_id = models.CharField(
        _("SDK AppID (Tencent) or sender number (Twilio)"), max_length=64, blank=True
    )
    sign_name = models.CharField(_("signature (签名)"), max_length=64, blank=True)
    region = models.CharField(_("region"), max_length=32, blank=True)
    # The path secret of the callback addresses given to the provider: neither Alibaba Cloud's
    # nor Tencent Cloud's report pushes are signed.
    callback_secret = models.CharField(max_length=64)
    tested_at = models.DateTimeField(_("last test"), null=True, blank=True)
    test_result = models.TextField(_("result of the last test"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SMS provider account")
        verbose_name_plural = _("SMS provider accounts")

    def __str__(self) -> str:
        return self.get_provider_display()


class SmsReceipt(models.Model):
    """A delivery report of a template provider, kept as it came: a report may arrive before
    the worker has written the provider's id on the message (the send and its report race),
    so one that matches nothing yet is applied when the message's id is written."""

    provider_id = models.CharField(max_length=64)
    delivered = models.BooleanField()
    error = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider_id", "delivered"], name="sms_receipt_once")
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="sms_receipt_unapplied_idx",
                condition=models.Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {'delivered' if self.delivered else 'failed'}"


class InboundMessage(models.Model):
    """An SMS a contact sent back, and what it did."""

    class Result(models.TextChoices):
        ANSWERED = "answered", _("Recorded as a survey answer")
        OPTED_OUT = "opted_out", _("Contact opted out")
        UNMATCHED = "unmatched", _("Not matched to any message")
        KEPT = "kept", _("Kept for staff to read")

    provider_id = models.CharField(max_length=64, unique=True)
    from_number = EncryptedCharField(_("from"), max_length=32)
    body = models.TextField(_("text"))
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply_to = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    result = models.CharField(_("result"), max_length=10, choices=Result.choices)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"SMS #{self.pk} ({self.get_result_display()})"

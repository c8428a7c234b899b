"""WeChat (DESIGN.md §7a.9): the clinic's Official Account (公众号), the template of each
message purpose there, and the links of contacts to the WeChat users (OpenIDs) who followed
the account by scanning a QR code with their consent."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..fields import BlindIndexField, EncryptedCharField
from .encounters import Contact
from .messages import Purpose


class WeChatAccount(models.Model):
    """The clinic's Official Account: one per clinic. The AppSecret, the server Token and the
    EncodingAESKey are stored encrypted and never shown again; the hook secret makes the
    callback URL unguessable (the Token's signature is what proves an event is WeChat's)."""

    # One row per clinic: the unique constant refuses a second.
    singleton = models.BooleanField(default=True, unique=True, editable=False)
    app_id = models.CharField(_("AppID"), max_length=32)
    app_secret = EncryptedCharField(_("AppSecret"), max_length=64)
    token = EncryptedCharField(_("Token"), max_length=32)
    encoding_aes_key = EncryptedCharField(_("EncodingAESKey"), max_length=43, blank=True)
    hook_secret = EncryptedCharField(max_length=64)
    # When "send a test" last got an access token with these credentials.
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("WeChat Official Account")
        verbose_name_plural = _("WeChat Official Accounts")

    def __str__(self) -> str:
        return self.app_id


class WeChatTemplate(models.Model):
    """The Official Account's template (模板消息) that carries our messages of one purpose:
    its id and which of our message variables (crm.message_templates.MESSAGE_VARIABLES) fills
    each of its data keys, e.g. {"thing1": "clinic_name", "time2": "return_visit_date"}. The survey
    link is the message's url, not a data key."""

    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices, unique=True)
    template_id = models.CharField(_("template ID"), max_length=64)
    data = models.JSONField(_("data keys"), default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["purpose"]
        verbose_name = _("WeChat template")
        verbose_name_plural = _("WeChat templates")

    def __str__(self) -> str:
        return self.get_purpose_display()


class WeChatLink(models.Model):
    """A contact reached through a WeChat user: made when the user scanned the contact's QR
    code and followed the account, after the consent recorded on its link token. Unfollowing
    keeps the row (and when it happened); following again makes it usable again."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="wechat_links")
    openid = EncryptedCharField(max_length=64)
    openid_index = BlindIndexField(source="openid", kind="wechat")
    consent_at = models.DateTimeField(_("consent given"))
    linked_at = models.DateTimeField(_("linked"))
    following = models.BooleanField(_("following"), default=True)
    unfollowed_at = models.DateTimeField(_("unfollowed"), null=True, blank=True)

    class Meta:
        ordering = ["-linked_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "openid_index"], name="wechat_link_once")
        ]
        indexes = [models.Index(fields=["openid_index"], name="wechat_link_openid_idx")]

    def __str__(self) -> str:
        return f"WeChat link #{self.pk}"


class WeChatLinkToken(models.Model):
    """The scene of one QR code: a random one-time token that stands for a contact (no
    personal data goes to WeChat), made once the consent was given — by the patient on the
    survey's thank-you page, or recorded by staff for a printed slip. Only its hash is kept;
    the first WeChat user who scans it is linked, nobody after."""

    class Source(models.TextChoices):
        SURVEY = "survey", _("Survey thank-you page")
        SLIP = "slip", _("Printed slip")

    token_hash = models.CharField(max_length=64, unique=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    consent_at = models.DateTimeField()
    # Staff who recorded the patient's consent for a slip; none for the patient's own tick.
    consent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the QR code holds (a weixin.qq.com/q/… address from the QR API): the slip and the
    # thank-you page draw it again without asking WeChat for another code.
    qr_url = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by_index = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"WeChat link token #{self.pk}"


class WeChatEvent(models.Model):
    """An event WeChat pushed, kept by its identity so that a redelivery (WeChat retries a
    push three times when the answer is slow) or a replay does nothing the second time."""

    key = models.CharField(max_length=200, unique=True)
    event = models.CharField(max_length=40)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event

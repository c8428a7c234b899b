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

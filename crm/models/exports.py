"""Full exports of a clinic's data (DESIGN.md §9: portability, offboarding)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ClinicExport(models.Model):
    """One ZIP of everything the clinic holds (a CSV per table, a manifest, its media), built
    by a worker into the clinic's own media storage under a private path (never served by
    the media view), downloaded through the app by administrators until it expires."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Deleted after 7 days")

    class Purpose(models.TextChoices):
        PORTABILITY = "portability", _("Requested by the clinic")
        CLOSING = "closing", _("Clinic closing")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.PORTABILITY)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # A storage name under the clinic's media prefix, e.g. exports/<random>.zip.
    path = models.CharField(max_length=200, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    failure = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Ready exports are deleted after this (the tick); a closing export goes with the schema.
    expires_at = models.DateTimeField(_("available until"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("clinic export")
        verbose_name_plural = _("clinic exports")

    def __str__(self) -> str:
        return f"export #{self.pk} {self.status}"

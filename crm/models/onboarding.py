"""The new clinic's set-up checklist: when it started and whether it was put away."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Onboarding(models.Model):
    """One row per clinic, made by the last preset step (crm.services.onboarding_start). Its
    steps are ticked from the clinic's own data (crm.selectors_home.onboarding_steps), never
    from this row: ``started_at`` only tells the clinic's own edits from the preset's. A
    clinic made before the checklist existed has no row and is shown none."""

    started_at = models.DateTimeField(_("started at"))
    # Per clinic, not per browser: one administrator putting it away puts it away for all.
    dismissed_at = models.DateTimeField(_("put away at"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("put away by"),
    )

    class Meta:
        verbose_name = _("set-up checklist")
        verbose_name_plural = _("set-up checklists")

    def __str__(self) -> str:
        return f"onboarding since {self.started_at:%Y-%m-%d}"

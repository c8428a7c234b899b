"""KPI targets (DESIGN.md §4, §7): what the clinic aims for, drawn beside each figure."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .people import Department


class KpiTarget(models.Model):
    class Metric(models.TextChoices):
        FOLLOW_UP_RATE = "follow_up_rate", _("Follow-up rate")
        TIMELINESS = "timeliness", _("Timeliness")
        SATISFACTION_RATE = "satisfaction_rate", _("Satisfaction rate")
        NPS = "nps", "NPS"
        COMPLAINTS_ON_TIME = "complaints_on_time", _("Complaints replied on time")
        SPOT_CHECK_AGREEMENT = "spot_check_agreement", _("Spot-check agreement")

    metric = models.CharField(_("figure"), max_length=30, choices=Metric.choices)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: the whole clinic."),
    )
    target = models.DecimalField(_("at least"), max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["metric", "department"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "department"],
                name="kpi_target_once",
                nulls_distinct=False,
            )
        ]
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")

    def __str__(self) -> str:
        return f"{self.get_metric_display()} ≥ {self.target}"

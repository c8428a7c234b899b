"""KPI targets (DESIGN.md §4, §7): what the clinic aims for, drawn beside each figure. A target
may name a kind of patient (encounter kind) and a department: regulations hold inpatients to
a follow-up rate of 80 % and outpatient surgery to 50 %, each against its own target."""

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
    # An EncounterKind's code, the clinic's own included; "" is every kind.
    encounter_kind = models.CharField(
        _("kind of patient"),
        max_length=30,
        blank=True,
        default="",
        help_text=_("Empty: every kind."),
    )
    target = models.DecimalField(_("at least"), max_digits=5, decimal_places=2)

    # The figures counted per encounter, the only ones a kind of patient narrows.
    KIND_METRICS = (Metric.FOLLOW_UP_RATE, Metric.TIMELINESS)

    class Meta:
        ordering = ["metric", "department", "encounter_kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "department", "encounter_kind"],
                name="kpi_target_once",
                nulls_distinct=False,
            )
        ]
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")

    def __str__(self) -> str:
        kind = f" ({self.encounter_kind})" if self.encounter_kind else ""
        return f"{self.get_metric_display()}{kind} ≥ {self.target}"

"""The department's monthly loop (issue 19 §4, seed regulations): each month a department's
head and head nurse sign off its follow-up register, leadership comment on the centre's
monthly report, and a department below a target records its corrective action (整改), which
the next month's report lists too. Every write also leaves an AuditEntry (crm.services.review).

Sign-offs and comments are append-only (a signature is not edited; the database refuses it
too, migration 0038). A corrective action changes once, from open to done with its result."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from saas.appendonly import AppendOnlyModel

from .people import Department
from .targets import KpiTarget


class RegisterSignOff(AppendOnlyModel):
    """One signature of one department's register for one month, by the head or the head
    nurse: once per role and once per person (two people review, not one twice). The
    department's figures at the moment of signing are kept, so the report can say when the
    register changed after it was signed."""

    class Role(models.TextChoices):
        HEAD = "head", _("Department head")
        HEAD_NURSE = "head_nurse", _("Head nurse")

    month = models.DateField(_("month"))  # its first day
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    role = models.CharField(_("signed as"), max_length=20, choices=Role.choices)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("signed by"),
    )
    signed_at = models.DateTimeField(_("signed at"))
    note = models.TextField(_("note"), blank=True, default="")
    # {"eligible": n, "followed_up": n}: the register as it stood when signed.
    figures = models.JSONField(default=dict)

    class Meta:
        ordering = ["month", "department", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "month", "role"], name="register_sign_off_once_per_role"
            ),
            models.UniqueConstraint(
                fields=["department", "month", "signed_by"],
                name="register_sign_off_once_per_person",
            ),
        ]
        verbose_name = _("register sign-off")
        verbose_name_plural = _("register sign-offs")

    def __str__(self) -> str:
        return f"{self.department_id} {self.month:%Y-%m} {self.role}"


class ReportComment(AppendOnlyModel):
    """Leadership's comment on the centre's report of one month."""

    month = models.DateField(_("month"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("when"))

    class Meta:
        ordering = ["month", "created_at", "id"]
        verbose_name = _("report comment")
        verbose_name_plural = _("report comments")

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} #{self.pk}"


class CorrectiveAction(models.Model):
    """What a department below a target in a month does about it (整改): the figure and the
    target it missed (as they stood when recorded), the cause, the measures, who owns them by
    when, and, once done, the result."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    # The figures a department is held to (crm.reporting.report.report_build's department rows).
    METRICS = (KpiTarget.Metric.FOLLOW_UP_RATE, KpiTarget.Metric.SATISFACTION_RATE)

    month = models.DateField(_("month"))
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    metric = models.CharField(_("figure"), max_length=30, choices=KpiTarget.Metric.choices)
    value = models.DecimalField(_("figure"), max_digits=5, decimal_places=2)
    target = models.DecimalField(_("target"), max_digits=5, decimal_places=2)
    cause = models.TextField(_("cause"))
    measures = models.TextField(_("measures"))
    owner = models.CharField(_("owner"), max_length=100)
    due_on = models.DateField(_("due"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    result = models.TextField(_("result"), blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("closed by"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["month", "department", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | models.Q(status="done", closed_at__isnull=False),
                name="corrective_action_closed_when_done",
            )
        ]
        verbose_name = _("corrective action")
        verbose_name_plural = _("corrective actions")

    def __str__(self) -> str:
        return f"{self.department_id} {self.month:%Y-%m} {self.metric}"

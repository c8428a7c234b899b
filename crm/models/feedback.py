"""Complaints (投诉), suggestions (意见建议) and praise (表扬) (DESIGN.md §4). A complaint has two
milestones in working days (acknowledge, reply; DESIGN.md §7a.4), a clock that stands still
while it waits on the customer, and a history of every change."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..fields import EncryptedTextField
from .encounters import Contact, Encounter
from .followup_tasks import FollowUpTask
from .people import Department


class FeedbackSource(models.TextChoices):
    CALL = "call", _("Follow-up call")
    SURVEY = "survey", _("Survey")
    SMS = "sms", _("SMS reply")
    PHONE_IN = "phone_in", _("Incoming call")
    IN_PERSON = "in_person", _("In person")
    LETTER = "letter", _("Letter or email")


class Complaint(models.Model):
    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        SUGGESTION = "suggestion", _("Suggestion")

    class Category(models.TextChoices):
        MEDICAL = "medical", _("Medical care")
        NURSING = "nursing", _("Nursing")
        FEES = "fees", _("Fees and billing")
        ENVIRONMENT = "environment", _("Environment")
        ATTITUDE = "attitude", _("Staff attitude")
        PROCESS = "process", _("Process and waiting")
        FOOD = "food", _("Food")
        RESULT = "result", _("Result of the treatment")
        OTHER = "other", _("Other")

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("complaint status", "Open")
        INVESTIGATING = "investigating", _("Investigating")
        # The clinic asked the customer something: the clock stands still until they answer.
        WAITING = "waiting", _("Waiting on the customer")
        REPLIED = "replied", _("Replied")
        CLOSED = "closed", _("Closed")

    # Where a complaint may go next: replied needs the reply, closed is final; waiting →
    # investigating is "the customer answered".
    NEXT = {
        Status.OPEN: (Status.INVESTIGATING, Status.WAITING, Status.REPLIED, Status.CLOSED),
        Status.INVESTIGATING: (Status.WAITING, Status.REPLIED, Status.CLOSED),
        Status.WAITING: (Status.INVESTIGATING, Status.REPLIED, Status.CLOSED),
        Status.REPLIED: (Status.CLOSED, Status.INVESTIGATING),
        Status.CLOSED: (),
    }
    # Unanswered with the clock running: what can be overdue, escalated or near its deadline.
    # A complaint waiting on the customer is unanswered too, but its clock stands still.
    UNANSWERED = (Status.OPEN, Status.INVESTIGATING)

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.COMPLAINT)
    source = models.CharField(_("source"), max_length=12, choices=FeedbackSource.choices)
    category = models.CharField(
        _("category"), max_length=12, choices=Category.choices, default=Category.OTHER
    )
    severity = models.CharField(
        _("severity"), max_length=8, choices=Severity.choices, default=Severity.MEDIUM
    )
    status = models.CharField(
        _("status"), max_length=14, choices=Status.choices, default=Status.OPEN
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints",
    )
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        FollowUpTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="complaints"
    )
    survey_response = models.ForeignKey(
        "surveys.SurveyResponse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints",
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member concerned"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    staff_name = models.CharField(_("staff member (name)"), max_length=100, blank=True)
    summary = EncryptedTextField(_("what the customer said"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # When the reply is due, in working days from receipt plus every pause's working time.
    deadline = models.DateTimeField(_("reply by"))
    # The first milestone: the customer hears that the complaint was taken up (moving it to
    # investigating, asking the customer something, or replying acknowledges it).
    acknowledge_by = models.DateTimeField(_("acknowledge by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    # Set while waiting on the customer; its working time moves the deadlines on resuming.
    paused_at = models.DateTimeField(_("clock paused at"), null=True, blank=True)
    paused_for = models.DurationField(_("working time paused"), default=timedelta)
    # A year whose public holidays the calendar package did not know when the deadlines were
    # counted: they count weekends only, and the page says so.
    holidays_unknown_year = models.PositiveSmallIntegerField(null=True, blank=True)
    reply = models.TextField(_("reply to the customer"), blank=True)
    corrective_action = models.TextField(_("corrective action"), blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [
            models.Index(
                fields=["deadline"],
                name="complaint_unanswered_idx",
                condition=models.Q(status__in=["open", "investigating"]),
            ),
            models.Index(fields=["created_at"], name="complaint_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    @property
    def is_unanswered(self) -> bool:
        return self.status in self.UNANSWERED

    @property
    def is_waiting(self) -> bool:
        return self.status == self.Status.WAITING

    def acknowledge_overdue(self, now) -> bool:
        return (
            self.acknowledged_at is None
            and self.status in self.UNANSWERED
            and self.acknowledge_by <= now
        )

    def reply_overdue(self, now) -> bool:
        return self.status in self.UNANSWERED and self.deadline <= now


class ComplaintEvent(models.Model):
    """One change of a complaint: who, when, what."""

    class Action(models.TextChoices):
        CREATED = "created", pgettext_lazy("complaint event", "Received")
        STATUS = "status", _("Status changed")
        EDITED = "edited", _("Details changed")
        REPLIED = "replied", _("Replied to the customer")
        ESCALATED = "escalated", _("Overdue: escalated to all supervisors and administrators")
        ESCALATED_DEPARTMENT = (
            "escalated_department",
            _("Overdue: escalated to the department's supervisors"),
        )
        WAITING = "waiting", _("Waiting on the customer: clock paused")
        ANSWERED = "answered", _("Customer answered: clock running again")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=24, choices=Action.choices)
    from_status = models.CharField(max_length=14, blank=True)
    to_status = models.CharField(max_length=14, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"

    @property
    def to_status_label(self) -> str:
        return Complaint.Status(self.to_status).label if self.to_status else ""

    @property
    def changes_shown(self) -> list[tuple]:
        """(field's name, before, after) for each changed field."""
        return [
            (Complaint._meta.get_field(name).verbose_name, before, after)
            for name, (before, after) in self.changes.items()
        ]


class Praise(models.Model):
    source = models.CharField(_("source"), max_length=12, choices=FeedbackSource.choices)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        FollowUpTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    survey_response = models.ForeignKey(
        "surveys.SurveyResponse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="praise",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member praised"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    staff_name = models.CharField(_("staff member (name)"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = EncryptedTextField(_("what the customer said"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("praise")
        verbose_name_plural = _("praise")

    def __str__(self) -> str:
        return f"#{self.pk} {self.staff_name or self.staff_id or ''}"

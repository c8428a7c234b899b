"""Follow-up tasks, the attempts logged on them and the outcome codes that drive them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..fields import EncryptedTextField
from .encounters import Contact, ContactPhone, Encounter
from .people import Department
from .rules import FollowUpRule, RuleStep


class OutcomeCategory(models.TextChoices):
    """The fixed taxonomy under every tenant's outcome codes: it drives the task (see
    crm.services.attempt_log) and the KPI denominators."""

    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    POWERED_OFF = "powered_off", _("Powered off")
    SUSPENDED = "suspended", _("Line suspended")
    WRONG_NUMBER = "wrong_number", _("Wrong or empty number")
    REFUSED = "refused", _("Refused")
    HUNG_UP_SUSPECTED_FRAUD = "hung_up_suspected_fraud", _("Hung up, suspected fraud")
    LANGUAGE_BARRIER = "language_barrier", _("Language barrier")
    HEARING_IMPAIRED = "hearing_impaired", _("Hearing impaired")
    DECEASED = "deceased", _("Deceased")
    TRANSFERRED_ELSEWHERE = "transferred_elsewhere", _("Transferred elsewhere")
    READMITTED = "readmitted", _("Readmitted")
    OPTED_OUT = "opted_out", _("Opted out")


# Try again later, per the step's retry policy.
RETRYABLE = frozenset(
    {
        OutcomeCategory.NO_ANSWER,
        OutcomeCategory.BUSY,
        OutcomeCategory.POWERED_OFF,
        OutcomeCategory.SUSPENDED,
        OutcomeCategory.HUNG_UP_SUSPECTED_FRAUD,
    }
)


class OutcomeCode(models.Model):
    """A tenant's own outcome code (e.g. "family member answered") under a fixed category."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=100)
    category = models.CharField(_("category"), max_length=30, choices=OutcomeCategory.choices)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("outcome code")
        verbose_name_plural = _("outcome codes")

    def __str__(self) -> str:
        return self.label


class FollowUpTask(models.Model):
    """One due follow-up of one encounter. Planned tasks carry (step, sequence) so planning
    again finds them instead of adding more; tier-3 spot checks point at the task they audit."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        UNREACHABLE = "unreachable", _("Unreachable")
        CANCELLED = "cancelled", _("Cancelled")
        EXCLUDED = "excluded", _("Excluded")

    class Reason(models.TextChoices):
        NONE = "", ""
        DECEASED = "deceased", _("Contact deceased")
        DO_NOT_CONTACT = "do_not_contact", _("Contact asked not to be contacted")
        # Not an exclusion: an encounter nobody can be reached at stays in the denominator,
        # unreachable with this reason (DESIGN.md §7; regulations: "电话不详").
        NO_CONTACT = "no_contact", _("No contact information")
        OUTCOME = "outcome", _("Outcome at discharge excluded by the rule")
        TAG = "tag", _("Tag excluded by the rule")
        NO_LONGER_MATCHES = "no_longer_matches", _("Encounter corrected: no longer matches")
        RECOVERED = "recovered", _("Patient recovered")
        READMITTED = "readmitted", _("Readmitted")
        ATTEMPTS_EXHAUSTED = "attempts_exhausted", _("No attempts left")
        WINDOW_CLOSED = "window_closed", _("Window closed")
        OUTCOME_TERMINAL = "outcome_terminal", _("Outcome of the last attempt")
        MESSAGE_FAILED = "message_failed", _("The message could not be sent")
        ANONYMISED = "anonymised", _("Contact's data erased")
        RETURN_VISIT_BOOKED = "return_visit_booked", _("Return visit already booked")
        # A lapsed-customer call whose customer came back (or booked) before it was made.
        NOT_LAPSED = "not_lapsed", _("Came back: a later encounter")

    OPEN = (Status.PENDING, Status.IN_PROGRESS)

    # Indexes are chosen, not one per foreign key: every index slows the bulk planning of a
    # nightly import. encounter is covered by task_planned_once, contact by task_contact_idx,
    # assignee and department (open tasks) by the worklist's partial indexes.
    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    rule = models.ForeignKey(
        FollowUpRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    step = models.ForeignKey(
        RuleStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    sequence = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(_("follow-up"), max_length=120)
    channel = models.CharField(_("channel"), max_length=20, choices=RuleStep.Channel.choices)
    tier = models.PositiveSmallIntegerField(_("tier"), default=2)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="followup_tasks",
        verbose_name=_("assignee"),
        db_index=False,
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("department queue"),
        db_index=False,
    )
    opens_at = models.DateTimeField(_("opens"))
    due_at = models.DateTimeField(_("due"))
    closes_at = models.DateTimeField(_("closes"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(
        _("reason"), max_length=30, choices=Reason.choices, blank=True, default=""
    )
    max_attempts = models.PositiveSmallIntegerField(default=3)
    retry_gap_hours = models.PositiveSmallIntegerField(default=4)
    attempts_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_outcome = models.CharField(
        _("last outcome"), max_length=30, choices=OutcomeCategory.choices, blank=True, default=""
    )
    reached_in_window = models.BooleanField(null=True, blank=True)
    completed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    result_summary = models.TextField(_("result"), blank=True, default="")
    escalated_at = models.DateTimeField(_("moved to the centre at"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    spot_check_of = models.OneToOneField(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="spot_check"
    )
    audit_agrees = models.BooleanField(_("audit agrees"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        permissions = [
            ("spot_check", _("Can re-call completed follow-ups (tier-3 spot check)")),
            ("view_reports", _("Can see the follow-up KPI reports")),
            ("export_reports", _("Can download KPI reports and their lists")),
        ]
        constraints = [
            # Spot checks (no step) are not constrained: NULLs are distinct in PostgreSQL.
            models.UniqueConstraint(
                fields=["encounter", "step", "sequence"], name="task_planned_once"
            )
        ]
        indexes = [
            # The worklist: open tasks by urgency, for the centre, an assignee or a department.
            models.Index(
                fields=["due_at", "id"],
                condition=Q(status__in=["pending", "in_progress"]),
                name="task_open_due_idx",
            ),
            models.Index(
                fields=["assignee", "due_at", "id"],
                condition=Q(status__in=["pending", "in_progress"]),
                name="task_open_assignee_idx",
            ),
            models.Index(
                fields=["department", "due_at", "id"],
                condition=Q(status__in=["pending", "in_progress"]),
                name="task_open_department_idx",
            ),
            models.Index(
                fields=["closes_at"],
                condition=Q(status__in=["pending", "in_progress"]),
                name="task_open_closes_idx",
            ),
            models.Index(fields=["contact", "status"], name="task_contact_idx"),
            # The tick: message follow-ups (SMS, email, survey link) whose message is not out.
            models.Index(
                fields=["opens_at"],
                condition=Q(status="pending", attempts_count=0) & ~Q(channel="phone"),
                name="task_message_due_idx",
            ),
            # The reports' spot-check agreement: tier-3 audits closed in a period.
            models.Index(
                fields=["completed_at"], condition=Q(tier=3), name="task_spot_check_done_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.contact_id}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class CallAttempt(models.Model):
    """One attempt on a task: kept forever; the task's state follows from its outcome."""

    task = models.ForeignKey(FollowUpTask, on_delete=models.CASCADE, related_name="attempts")
    # The reverse name lets the wallboard join each agent to their day's attempts in one
    # query (crm.selectors_wallboard).
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="call_attempts",
        verbose_name=_("agent"),
    )
    phone = models.ForeignKey(
        ContactPhone, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=RuleStep.Channel.choices)
    started_at = models.DateTimeField(_("started at"))
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)
    outcome = models.ForeignKey(
        OutcomeCode, on_delete=models.PROTECT, related_name="+", verbose_name=_("outcome")
    )
    category = models.CharField(max_length=30, choices=OutcomeCategory.choices)
    notes = EncryptedTextField(_("notes"), blank=True, default="")
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    recovered = models.BooleanField(_("patient has recovered"), default=False)
    audit_agrees = models.BooleanField(_("agrees with the original call"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("call attempt")
        verbose_name_plural = _("call attempts")
        indexes = [
            # The wallboard: today's and the last hour's attempts, read every 30 s per screen.
            models.Index(fields=["started_at"], name="attempt_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.category}"

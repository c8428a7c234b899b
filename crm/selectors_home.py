"""Reads of the home page: what needs each role now. One function per figure; each is one
small query (a count or a grouped read on an indexed column), because every staff member
opens the home page many times a day. Set-up problems and the new clinic's checklist are
read from the clinic's data, never from clicks on the home page itself."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from billing import entitlements
from surveys.models import SurveyTemplate
from tenants.models import Tenant

from .calendar import local_date, tenant_zone
from .models import (
    AuditEntry,
    CallAttempt,
    Complaint,
    Department,
    Encounter,
    FollowUpRule,
    FollowUpTask,
    ImportJob,
    KpiTarget,
    Onboarding,
    OutcomeCategory,
    SmsAccount,
)
from .reporting.figures.followup import FollowUpFigures, follow_up_by_department
from .reporting.figures.satisfaction import SatisfactionFigures, satisfaction_by
from .reporting.period import month_period, rate
from .reporting.targets import targets_all, targets_check
from .roles import MANAGE_SETTINGS, SPOT_CHECK, VIEW_COMPLAINTS, VIEW_REPORTS, WORK_TASKS, Role
from .selectors import (
    Scope,
    When,
    WorklistFilters,
    staff_role,
    today_bounds,
    worklist,
    worklist_scopes,
)

User = get_user_model()

# An unanswered complaint whose reply is due within this long is "near its deadline".
COMPLAINT_NEAR = timedelta(days=2)
# Seats are "nearly used" at this share of the plan's seats, or with one seat left.
SEATS_NEARLY = Decimal("0.8")
# A trial "ends soon" within this many days.
TRIAL_SOON = timedelta(days=7)


# --- Follow-ups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    due: int
    overdue: int


def queue_counts(user, *, scope: str, now: datetime, tier: int | None = None) -> QueueCounts:
    """Open follow-ups of a worklist scope that are due now and that are overdue, in one
    query, counted exactly as the worklist lists them (When.DUE and When.OVERDUE)."""
    tasks = worklist(user, WorklistFilters(scope=scope, when="", tier=tier), now=now)
    due = Q(opens_at__lte=now) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    counts = tasks.order_by().aggregate(
        due=Count("pk", filter=due), overdue=Count("pk", filter=Q(due_at__lte=now))
    )
    return QueueCounts(due=counts["due"], overdue=counts["overdue"])


def callbacks_today_count(user, *, now: datetime) -> int:
    """Open follow-ups on which this user promised a call back for some time today."""
    return worklist(
        user, WorklistFilters(scope=Scope.ALL, when=When.CALLBACKS_TODAY), now=now
    ).count()


@dataclass(frozen=True)
class ReachToday:
    attempts: int
    reached: int

    @property
    def rate(self) -> Decimal | None:
        return rate(self.reached, self.attempts)


def reach_today(user, *, now: datetime) -> ReachToday:
    """The user's call attempts logged today, and how many reached the contact."""
    counts = (
        my_calls_today(user, now=now)
        .order_by()
        .aggregate(
            attempts=Count("pk"), reached=Count("pk", filter=Q(category=OutcomeCategory.REACHED))
        )
    )
    return ReachToday(attempts=counts["attempts"], reached=counts["reached"])


def my_calls_today(user, *, now: datetime):
    """The attempts this user logged today (the clinic's day), newest first: the list behind
    the reach rate."""
    start, end = today_bounds(now)
    return (
        CallAttempt.objects.filter(agent=user, started_at__gte=start, started_at__lt=end)
        .select_related("task", "task__contact", "outcome")
        .order_by("-started_at", "-id")
    )


def spot_checks_waiting_count(*, now: datetime) -> int:
    """Tier-3 re-calls whose window is open."""
    return (
        FollowUpTask.objects.filter(status__in=FollowUpTask.OPEN, tier=3, opens_at__lte=now)
        .order_by()
        .count()
    )


# --- Complaints and targets -----------------------------------------------------------------


def complaints_near_deadline_count(*, now: datetime) -> int:
    """Unanswered complaints whose reply is due within COMPLAINT_NEAR (overdue ones too): the
    complaint list "due soon" (crm.views.feedback)."""
    return Complaint.objects.filter(**complaints_near_deadline_filter(now)).count()


def complaints_near_deadline_filter(now: datetime) -> dict:
    return {"status__in": Complaint.UNANSWERED, "deadline__lte": now + COMPLAINT_NEAR}


@dataclass(frozen=True)
class BelowTarget:
    department: int
    name: str
    metric: str
    label: str
    value: Decimal
    target: Decimal
    url: str


def departments_below_target(*, today: date) -> list[BelowTarget]:
    """Departments whose follow-up or satisfaction rate this month (the report's figures,
    crm.reporting) is below their target, lowest first. Two grouped reads whatever the number of
    departments; none when the clinic has no targets."""
    targets = targets_all()
    if not targets:
        return []
    period = month_period(today.replace(day=1))
    follow_up = follow_up_by_department(period)
    satisfaction = satisfaction_by(period, "department", dimensions=False)
    names = dict(Department.objects.values_list("pk", "name"))
    labels = dict(KpiTarget.Metric.choices)
    month = period.start.strftime("%Y-%m")
    found = []
    for pk in (set(follow_up) | set(satisfaction)) - {None}:
        rated = satisfaction.get(pk, SatisfactionFigures())
        followed = follow_up.get(pk, FollowUpFigures())
        values = {
            KpiTarget.Metric.FOLLOW_UP_RATE: followed.follow_up_rate,
            KpiTarget.Metric.SATISFACTION_RATE: rated.satisfaction_rate,
        }
        held = targets_check(values, department=pk, targets=targets)
        for metric, value in values.items():
            if metric in held and held[metric]["missed"]:
                # The list behind it: the encounters not followed up, or the responses.
                figure = (
                    {"figure": "not_followed_up"}
                    if metric == KpiTarget.Metric.FOLLOW_UP_RATE
                    else {"figure": "responses", "satisfaction": "rated"}
                )
                query = urlencode({**figure, "month": month, "department": pk})
                found.append(
                    BelowTarget(
                        department=pk,
                        name=names.get(pk, "—"),
                        metric=metric,
                        label=str(labels[metric]),
                        value=value,
                        target=held[metric]["target"],
                        url=f"{reverse('report_list')}?{query}",
                    )
                )
    return sorted(found, key=lambda row: (row.value - row.target, row.name))


# --- Set-up problems (administrators) -------------------------------------------------------


def sms_provider_configured() -> bool:
    """Whether this clinic can send SMS: through an account of its own (Settings → SMS
    provider), or through the platform's provider. The only place the home page and the
    set-up checklist ask."""
    return bool(settings.SMS_API_BASE) or SmsAccount.objects.exists()


def rules_matching_nothing(*, today: date) -> list[FollowUpRule]:
    """Active rules that planned no follow-up for any encounter of last month, when the
    clinic did record encounters last month (otherwise every rule would be listed and none is
    at fault). One query for the encounters, one for the rules."""
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    start, end = month_period(first).bounds()
    last_month = {"occurred_at__gte": start, "occurred_at__lt": end}
    if not Encounter.objects.filter(**last_month).exists():
        return []
    planned = FollowUpTask.objects.filter(
        rule=OuterRef("pk"),
        encounter__occurred_at__gte=start,
        encounter__occurred_at__lt=end,
    )
    return list(
        FollowUpRule.objects.filter(active=True)
        .annotate(matched=Exists(planned))
        .filter(matched=False)
        .only("pk", "name")
        .order_by("position", "pk")
    )


@dataclass(frozen=True)
class Seats:
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


def seats_nearly_used(tenant: Tenant) -> Seats | None:
    """The plan's staff seats when at least SEATS_NEARLY of them (or all but one) are taken."""
    plan = entitlements.plan_of(tenant)
    if plan is None or plan.staff_seats is None:
        return None
    seats = Seats(used=User.objects.filter(is_active=True).count(), limit=plan.staff_seats)
    if seats.used >= seats.limit * SEATS_NEARLY or seats.left <= 1:
        return seats
    return None


def trial_ending(tenant: Tenant, *, now: datetime) -> datetime | None:
    """When the clinic's trial ends, if it ends within TRIAL_SOON."""
    if tenant.status != Tenant.Status.TRIAL:
        return None
    account = entitlements.account_of(tenant)
    ends = account.trial_ends_at if account else None
    if ends is not None and ends - now <= TRIAL_SOON:
        return ends
    return None


# --- The new clinic's set-up checklist ------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    help: str
    url: str
    done: bool


@dataclass(frozen=True)
class Checklist:
    steps: list[Step]
    dismissed: bool

    @property
    def done(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)


def onboarding_checklist() -> Checklist | None:
    """The set-up steps of a new clinic, each ticked from what the clinic's data shows was
    done since its preset was made; None for a clinic made before the checklist existed.
    One query per step, all on small tables or indexed columns (existence checks)."""
    onboarding = Onboarding.objects.first()
    if onboarding is None:
        return None
    since = onboarding.started_at
    survey_reviewed = SurveyTemplate.objects.filter(updated_at__gt=since).exists()
    steps = [
        Step(
            "settings",
            _("Check the clinic's settings"),
            _("Calling hours, message hours and the phone region."),
            reverse("tenant_settings"),
            AuditEntry.objects.filter(
                action=AuditEntry.Action.SETTINGS_CHANGED, created_at__gt=since
            ).exists(),
        ),
        Step(
            "departments",
            _("Set up the departments"),
            _("Add, rename or deactivate departments to match the clinic."),
            reverse("department_list"),
            Department.objects.filter(updated_at__gt=since).exists(),
        ),
        Step(
            "staff",
            _("Invite the staff"),
            _("Agents, clinicians and supervisors each get their own sign-in."),
            reverse("staff_invite"),
            # By a staff member: the first administrator's own invitation, made when the
            # clinic was provisioned, has no actor.
            AuditEntry.objects.filter(
                action=AuditEntry.Action.STAFF_INVITED, created_at__gt=since, actor__isnull=False
            ).exists(),
        ),
        Step(
            "rules",
            _("Review the follow-up rules"),
            _("The preset rules say who is called when: adjust and save them."),
            reverse("rule_list"),
            FollowUpRule.objects.filter(updated_at__gt=since).exists(),
        ),
        Step(
            "survey",
            _("Review the satisfaction survey"),
            _("Adjust the preset survey's questions and save it."),
            reverse("survey_list"),
            survey_reviewed,
        ),
        Step(
            "sms",
            _("Connect SMS"),
            _("Needed for pre-call notices and survey links."),
            reverse("sms_provider"),
            sms_provider_configured(),
        ),
        Step(
            "import",
            _("Import the first register"),
            _("Try the sample register first: it shows how each column is read."),
            reverse("import_list"),
            ImportJob.objects.filter(status=ImportJob.Status.DONE).exists(),
        ),
        Step(
            "call",
            _("Work the first call"),
            _("Open the worklist, call a patient and log the outcome."),
            reverse("worklist"),
            CallAttempt.objects.exists(),
        ),
    ]
    return Checklist(steps=steps, dismissed=onboarding.dismissed_at is not None)


# --- One home per role ----------------------------------------------------------------------


def home_for(user, tenant: Tenant, *, now: datetime) -> dict:
    """What the home page shows this user, by what their role may do: their own calls
    (agents: the default queue; clinicians: their tier-1 patients), the team's queue and
    quality figures (supervisors), set-up problems and the checklist (administrators)."""
    home: dict = {}
    role = staff_role(user)
    today = local_date(now, tenant_zone(tenant))
    team = user.has_perm(SPOT_CHECK)
    if user.has_perm(WORK_TASKS) and not team:
        scope = worklist_scopes(user)[0]
        tier = 1 if role == Role.CLINICIAN else None
        if tier:
            scope = Scope.MINE
        home["mine"] = {
            "scope": scope,
            "scope_label": Scope(scope).label,
            "tier": tier,
            "queue": queue_counts(user, scope=scope, now=now, tier=tier),
            "callbacks": callbacks_today_count(user, now=now),
            "reach": reach_today(user, now=now),
        }
    if team:
        home["team"] = {
            "queue": queue_counts(user, scope=Scope.ALL, now=now),
            "spot_checks": spot_checks_waiting_count(now=now),
        }
    if user.has_perm(VIEW_COMPLAINTS):
        home["complaints_near"] = complaints_near_deadline_count(now=now)
    if user.has_perm(VIEW_REPORTS):
        home["below_target"] = departments_below_target(today=today)
    if user.has_perm(MANAGE_SETTINGS):
        home["setup"] = {
            "sms_missing": not sms_provider_configured(),
            "idle_rules": rules_matching_nothing(today=today),
            "seats": seats_nearly_used(tenant),
            "trial_ends": trial_ending(tenant, now=now),
        }
        home["checklist"] = onboarding_checklist()
    return home

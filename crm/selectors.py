"""Reads of the crm app, inside the current tenant's schema."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models import BooleanField, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from surveys.models import Satisfaction, SurveyInvitation, SurveyResponse

from . import crypto
from .calendar import local_date, local_midnight, tenant_zone
from .models import (
    CallAttempt,
    Complaint,
    Contact,
    ContactPhone,
    Department,
    Encounter,
    EncounterKind,
    FollowUpRule,
    FollowUpTask,
    Message,
    RuleStep,
    StaffProfile,
    WebhookDelivery,
)
from .models.messages import Purpose
from .roles import SPOT_CHECK, Role

User = get_user_model()


def staff_role(user) -> str | None:
    """The role of a staff member (the name of their role group), or None. Kept on the user
    object: a page asks several times (navigation, worklist scopes) for the same user."""
    if not hasattr(user, "_staff_role"):
        names = [g.name for g in user.groups.all() if g.name in Role.values]
        user._staff_role = names[0] if names else None
    return user._staff_role


def staff_departments() -> dict[int, list[str]]:
    """user id → names of the departments they work in."""
    names: dict[int, list[str]] = {}
    for user_id, name in StaffProfile.departments.through.objects.values_list(
        "staffprofile__user_id", "department__name"
    ).order_by("department__name"):
        names.setdefault(user_id, []).append(name)
    return names


def staff_two_step_ids() -> set[int]:
    """Ids of the staff who sign in with an authenticator app (two-step sign-in on)."""
    return set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))


def staff_list() -> QuerySet:
    return User.objects.prefetch_related("groups").order_by("-is_active", "email")


# --- The worklist ---------------------------------------------------------------------------

WORKLIST_PAGE = 50


class Scope(models.TextChoices):
    MINE = "mine", _("Mine")
    DEPARTMENT = "department", _("My departments")
    CENTRE = "centre", _("Follow-up centre")
    SPOT_CHECKS = "spot_checks", _("Spot checks")
    ALL = "all", _("All")


class When(models.TextChoices):
    DUE = "due", _("Due now")
    OVERDUE = "overdue", _("Overdue")
    UPCOMING = "upcoming", _("Upcoming")
    # Whatever the scope: the follow-ups on which this user promised a call back for today.
    CALLBACKS_TODAY = "callbacks_today", _("My callbacks for today")


def today_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The clinic's current local day as [start, end) instants, in its own time zone."""
    zone = tenant_zone(connection.tenant)
    day = local_date(now, zone)
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def worklist_scopes(user) -> list[str]:
    """The scopes a user may look at, the default first."""

    role = staff_role(user)
    if role == Role.CLINICIAN:
        return [Scope.MINE, Scope.DEPARTMENT]
    scopes = [Scope.CENTRE, Scope.MINE, Scope.DEPARTMENT]
    if user.has_perm(SPOT_CHECK):
        scopes = [Scope.ALL, *scopes, Scope.SPOT_CHECKS]
    return scopes


def task_in_scope(user, task: FollowUpTask) -> bool:
    """Whether the task is on one of the lists the user may work (the worklist's scopes), or
    is one they hold: what a user may open, claim and call, whatever URL they type."""
    scopes = worklist_scopes(user)
    if Scope.ALL in scopes or user.pk in (task.assignee_id, task.claimed_by_id):
        return True
    unassigned = task.assignee_id is None
    if task.tier == 3:
        return Scope.SPOT_CHECKS in scopes
    if Scope.CENTRE in scopes and unassigned and task.department_id is None and task.tier == 2:
        return True
    return (
        Scope.DEPARTMENT in scopes
        and unassigned
        and task.department_id in user_department_ids(user)
    )


def user_department_ids(user) -> list[int]:
    return list(
        StaffProfile.departments.through.objects.filter(staffprofile__user=user).values_list(
            "department_id", flat=True
        )
    )


@dataclass(frozen=True)
class WorklistFilters:
    scope: str = Scope.CENTRE
    when: str = When.DUE
    department: int | None = None
    rule: int | None = None
    tier: int | None = None
    status: str = ""
    q: str = ""


def worklist(
    user, filters: WorklistFilters, *, now: datetime, after: tuple | None = None
) -> QuerySet:
    """Open tasks of the scope, most urgent (earliest due) first, keyset-paginated on
    (due_at, id): each page is an index range scan however deep it is."""
    tasks = FollowUpTask.objects.filter(status__in=FollowUpTask.OPEN)
    if filters.scope == Scope.MINE:
        tasks = tasks.filter(assignee=user)
    elif filters.scope == Scope.DEPARTMENT:
        tasks = tasks.filter(department_id__in=user_department_ids(user), assignee__isnull=True)
    elif filters.scope == Scope.CENTRE:
        tasks = tasks.filter(assignee__isnull=True, department__isnull=True, tier=2)
    elif filters.scope == Scope.SPOT_CHECKS:
        tasks = tasks.filter(tier=3)

    if filters.when == When.DUE:
        tasks = tasks.filter(opens_at__lte=now).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
    elif filters.when == When.OVERDUE:
        tasks = tasks.filter(due_at__lte=now)
    elif filters.when == When.UPCOMING:
        tasks = tasks.filter(Q(opens_at__gt=now) | Q(next_attempt_at__gt=now))
    elif filters.when == When.CALLBACKS_TODAY:
        start, end = today_bounds(now)
        tasks = tasks.filter(
            pk__in=CallAttempt.objects.filter(
                agent=user, callback_at__gte=start, callback_at__lt=end
            ).values("task_id")
        )
    if filters.department:
        tasks = tasks.filter(department_id=filters.department)
    if filters.rule:
        tasks = tasks.filter(rule_id=filters.rule)
    if filters.tier:
        tasks = tasks.filter(tier=filters.tier)
    if filters.status in FollowUpTask.OPEN:
        tasks = tasks.filter(status=filters.status)
    if filters.q:
        tasks = tasks.filter(contact_id__in=contacts_matching(filters.q))
    if after is not None:
        # A row comparison: PostgreSQL reads it as a range of the (due_at, id) index. The same
        # condition written as an OR of two is filtered row by row, slower the deeper the page.
        table = connection.ops.quote_name(FollowUpTask._meta.db_table)
        tasks = tasks.filter(
            RawSQL(  # noqa: S611 - the values are parameters, the table name is our model's
                f"({table}.due_at, {table}.id) > (%s, %s)", after, output_field=BooleanField()
            )
        )
    return tasks.select_related("contact").only(*WORKLIST_COLUMNS).order_by("due_at", "pk")


# What the worklist and its "call now" test read: a narrower row is a faster page.
WORKLIST_COLUMNS = (
    *(
        f.name
        for f in FollowUpTask._meta.concrete_fields
        if f.name not in ("result_summary", "created_at", "updated_at")
    ),
    "contact__name",
    "contact__record_no",
)


def worklist_page(
    user, filters: WorklistFilters, *, now: datetime, after: tuple | None, size: int
) -> tuple[list[FollowUpTask], bool]:
    """One page of the worklist and whether more follow. Departments, rules and staff are
    attached from small lookups rather than joined: PostgreSQL plans a six-table join on
    every request, and planning cost more than running the query (measured on 1M tasks)."""

    tasks = list(worklist(user, filters, now=now, after=after)[: size + 1])
    more = len(tasks) > size
    tasks = tasks[:size]
    departments = Department.objects.in_bulk({t.department_id for t in tasks} - {None})
    rules = FollowUpRule.objects.in_bulk({t.rule_id for t in tasks} - {None})
    staff_ids = {t.assignee_id for t in tasks} | {t.claimed_by_id for t in tasks}
    staff = User.objects.in_bulk(staff_ids - {None})
    unhappy = contacts_unhappy({t.contact_id for t in tasks})
    for task in tasks:
        task.department = departments.get(task.department_id)
        task.rule = rules.get(task.rule_id)
        task.assignee = staff.get(task.assignee_id)
        task.claimed_by = staff.get(task.claimed_by_id)
        task.unhappy = unhappy.get(task.contact_id)
    return tasks, more


# A complaint nobody has answered yet, including one waiting on the customer: the agent is
# about to talk to someone whose grievance is still in the air. A replied one is answered.
COMPLAINT_STILL_OPEN = (
    Complaint.Status.OPEN,
    Complaint.Status.INVESTIGATING,
    Complaint.Status.WAITING,
)


@dataclass(frozen=True)
class Unhappy:
    """Why a contact may pick up the phone unhappy: their last survey response was
    dissatisfied, or their last complaint is still open (DESIGN.md §7a.7). Ids and dates
    only: the agent sees the reason, the response or complaint itself needs its permission."""

    response_id: int | None = None
    response_at: datetime | None = None
    complaint_id: int | None = None
    complaint_at: datetime | None = None


def contacts_unhappy(contact_ids: set[int] | list[int]) -> dict[int, Unhappy]:
    """contact id → why they were unhappy last time, for those who were. Two queries
    whatever the number of contacts (the last response and the last complaint of each, by
    DISTINCT ON): the worklist asks for a whole page at once."""
    ids = list(contact_ids)
    if not ids:
        return {}
    found: dict[int, dict] = {}
    responses = (
        SurveyResponse.objects.filter(contact_id__in=ids)
        .order_by("contact_id", "-submitted_at", "-id")
        .distinct("contact_id")
        .values_list("contact_id", "pk", "satisfaction", "submitted_at")
    )
    for contact_id, pk, satisfaction, submitted_at in responses:
        if satisfaction == Satisfaction.DISSATISFIED:
            found.setdefault(contact_id, {}).update(response_id=pk, response_at=submitted_at)
    complaints = (
        Complaint.objects.filter(contact_id__in=ids, kind=Complaint.Kind.COMPLAINT)
        .order_by("contact_id", "-created_at", "-id")
        .distinct("contact_id")
        .values_list("contact_id", "pk", "status", "created_at")
    )
    for contact_id, pk, status, created_at in complaints:
        if status in COMPLAINT_STILL_OPEN:
            found.setdefault(contact_id, {}).update(complaint_id=pk, complaint_at=created_at)
    return {contact_id: Unhappy(**why) for contact_id, why in found.items()}


def cursor_encode(task: FollowUpTask) -> str:
    return f"{task.due_at.timestamp():.6f}_{task.pk}"


def cursor_decode(text: str) -> tuple | None:
    try:
        stamp, pk = text.split("_")
        return datetime.fromtimestamp(float(stamp), tz=UTC), int(pk)
    except (ValueError, OverflowError, OSError):
        return None


def task_history(task: FollowUpTask) -> QuerySet:
    """Every attempt on any follow-up of this contact, newest first."""
    return (
        CallAttempt.objects.filter(task__contact_id=task.contact_id)
        .select_related("agent", "outcome", "task")
        .order_by("-started_at", "-id")
    )


def contact_return_visit_booked(contact_id: int, *, now: datetime) -> bool:
    """Whether the contact has a return visit booked ahead of ``now``: they will be seen,
    so no follow-up message or survey goes to them meanwhile (DESIGN.md §7a.8)."""
    return Encounter.objects.filter(
        contact_id=contact_id,
        kind__in=EncounterKind.objects.filter(books_return_visit=True).values("code"),
        occurred_at__gt=now,
    ).exists()


@dataclass(frozen=True)
class HeldBack:
    """Why a follow-up's message went without its survey, or did not go at all, and since
    when: "surveyed" (the last survey the contact was sent or answered before it) or
    "return_visit" (the booked visit's date)."""

    why: str
    day: datetime


def contact_held_back(contact_id: int) -> dict[int, HeldBack]:
    """Task id → what held back the message or survey of that follow-up of the contact
    (DESIGN.md §7a.8), for the contact's history: without it a survey left out for fatigue
    leaves no trace an agent or administrator can see. Read back from what was written: a
    follow-up whose step asks for a survey, whose message went without one, was capped by
    the survey the contact had before it; one cancelled for a return visit names the first
    booked visit after it was cancelled."""
    held: dict[int, HeldBack] = {}
    booked = list(
        Encounter.objects.filter(contact_id=contact_id, kind=Encounter.Kind.APPOINTMENT)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
    )
    cancelled = FollowUpTask.objects.filter(
        contact_id=contact_id, reason=FollowUpTask.Reason.RETURN_VISIT_BOOKED
    ).values_list("pk", "completed_at")
    for task_id, closed_at in cancelled:
        visit = next((day for day in booked if closed_at and day > closed_at), None)
        if visit is not None:
            held[task_id] = HeldBack("return_visit", visit)
    unsurveyed = (
        Message.objects.filter(contact_id=contact_id, purpose=Purpose.FOLLOW_UP)
        .filter(Q(task__step__survey__isnull=False) | Q(task__channel=RuleStep.Channel.SURVEY_LINK))
        .exclude(Exists(SurveyInvitation.objects.filter(task=OuterRef("task"))))
        .values_list("task_id", "created_at")
    )
    for task_id, sent_at in unsurveyed:
        invited = SurveyInvitation.objects.filter(contact_id=contact_id, created_at__lt=sent_at)
        answered = SurveyResponse.objects.filter(contact_id=contact_id, submitted_at__lt=sent_at)
        days = [
            invited.aggregate(last=Max("created_at"))["last"],
            answered.aggregate(last=Max("submitted_at"))["last"],
        ]
        last = max((day for day in days if day is not None), default=None)
        if last is not None:
            held[task_id] = HeldBack("surveyed", last)
    return held


def contacts_matching(q: str) -> list[int]:
    """Ids of the contacts a search finds. Names and numbers are encrypted (crm/crypto.py),
    so a search finds what their blind indexes can: the exact record number, the exact full
    name (not a part of it), a phone number by its last four or more digits (its last four
    looked up, the rest compared in Python on those few numbers)."""
    q = " ".join((q or "").split())
    if not q:
        return []
    ids = set(
        Contact.objects.filter(Q(record_no=q) | Q(name_index=crypto.blind_name(q))).values_list(
            "pk", flat=True
        )
    )
    digits = "".join(ch for ch in q if ch.isdigit())
    if len(digits) >= 4:
        ids.update(
            contact_id
            for contact_id, number in ContactPhone.objects.filter(
                tail_index=crypto.blind_tail(digits)
            ).values_list("contact_id", "number")
            if "".join(ch for ch in number if ch.isdigit()).endswith(digits)
        )
    return sorted(ids)


def contact_search(q: str) -> QuerySet:
    """Contacts, newest first (names are encrypted: SQL cannot sort by them)."""
    contacts = Contact.objects.all()
    if (q or "").strip():
        contacts = contacts.filter(pk__in=contacts_matching(q))
    return contacts.prefetch_related("phones").order_by("-id")


# --- The backlog (recorded by the tick for /metrics) ----------------------------------------


def clinic_backlog(*, now: datetime) -> dict[str, int]:
    """What is waiting in this clinic: queued outbox messages, webhook deliveries waiting for
    a retry, failed ones, open follow-ups past their due time. The tick runs this every five
    minutes, so the counts walk partial indexes (message_queued_idx, webhook_delivery_due_idx,
    webhook_delivery_failed_idx, task_open_due_idx) and cost what is waiting, not the
    history."""
    deliveries = WebhookDelivery.objects.all()
    return {
        "outbox_queued": Message.objects.filter(status=Message.Status.QUEUED).count(),
        "webhooks_retrying": deliveries.filter(
            status=WebhookDelivery.Status.PENDING, attempts__gt=0
        ).count(),
        "webhooks_failed": deliveries.filter(status=WebhookDelivery.Status.FAILED).count(),
        "followups_overdue": FollowUpTask.objects.filter(
            status__in=FollowUpTask.OPEN, due_at__lte=now
        ).count(),
    }

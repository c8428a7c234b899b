"""Working follow-up tasks: claims, attempts and what their outcomes do (DESIGN.md §4, §5.2,
§5.3), phone reveals, and the periodic tick that closes windows and moves overdue work."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _

from saas import clock
from tenants.tick_records import clinic_backlog_record

from .. import selectors
from ..calendar import next_calling_time, tenant_zone
from ..models import (
    AuditEntry,
    CallAttempt,
    ContactPhone,
    FollowUpTask,
    OutcomeCategory,
    OutcomeCode,
    RuleStep,
)
from ..models.followup_tasks import RETRYABLE
from ..reporting import summary as kpi_summary
from . import webhooks
from .audit import audit_record
from .cascade import contacts_died, contacts_tasks_cancel, tasks_cancel
from .feedback import complaints_escalate
from .followup_messages import message_steps_due, pre_notices_due, survey_reminders_due
from .outbox import contact_messages_cancel
from .planning import lapsed_customers_plan
from .retention import retention_run
from .spot_checks import spot_check_draw, spot_checks_weekly

Status = FollowUpTask.Status
Reason = FollowUpTask.Reason
Category = OutcomeCategory

CLAIM_MINUTES = 15


def _locked(task: FollowUpTask) -> FollowUpTask:
    return FollowUpTask.objects.select_for_update().select_related("contact").get(pk=task.pk)


def task_held_by_other(task: FollowUpTask, user, now: datetime) -> bool:
    """Someone else holds an unexpired claim on the task."""
    return bool(
        task.claimed_by_id
        and task.claimed_by_id != user.pk
        and task.claimed_until
        and task.claimed_until > now
    )


def _refuse_closed(task: FollowUpTask) -> None:
    if not task.is_open:
        raise ValidationError(
            _("This follow-up is already closed (%(status)s)."),
            code="closed",
            params={"status": task.get_status_display()},
        )


def _refuse_held(task: FollowUpTask, user, now: datetime) -> None:
    if task_held_by_other(task, user, now):
        holder = task.claimed_by
        raise ValidationError(
            _("%(name)s is working on this follow-up until %(time)s."),
            code="held",
            params={
                "name": holder.get_full_name() or holder.email,
                "time": time_format(timezone.localtime(task.claimed_until), "H:i"),
            },
        )


@transaction.atomic
def task_claim(task: FollowUpTask, user, *, now: datetime | None = None) -> FollowUpTask:
    """Hold the task for ``user`` for CLAIM_MINUTES (renewed on every call), so two agents
    never work the same follow-up at once."""
    now = now or clock.now()
    task = _locked(task)
    _refuse_closed(task)
    _refuse_held(task, user, now)
    task.claimed_by = user
    task.claimed_until = now + timedelta(minutes=CLAIM_MINUTES)
    task.status = Status.IN_PROGRESS
    task.save(update_fields=["claimed_by", "claimed_until", "status", "updated_at"])
    return task


@transaction.atomic
def task_release(task: FollowUpTask, user) -> None:
    FollowUpTask.objects.filter(pk=task.pk, claimed_by=user, status=Status.IN_PROGRESS).update(
        claimed_by=None, claimed_until=None, status=Status.PENDING, updated_at=clock.now()
    )


def phone_reveal(task: FollowUpTask, user, phone: ContactPhone) -> str:
    """The full number, for the agent pressing "call"; every reveal is audit-logged."""
    audit_record(user, AuditEntry.Action.PHONE_REVEALED, contact=phone.contact_id, obj=task)
    return phone.number


@dataclass(frozen=True)
class AttemptInput:
    outcome: OutcomeCode
    notes: str = ""
    callback_at: datetime | None = None
    duration_seconds: int | None = None
    phone: ContactPhone | None = None
    recovered: bool = False
    audit_agrees: bool | None = None


def task_calling_hours(task: FollowUpTask) -> list:
    """The rule's calling-hours override, else the clinic's."""
    if task.rule_id and task.rule and task.rule.calling_hours:
        return task.rule.calling_hours
    return connection.tenant.calling_hours


@transaction.atomic
def attempt_log(
    task: FollowUpTask, agent, attempt: AttemptInput, *, now: datetime | None = None
) -> CallAttempt:
    """Record one attempt and move the task as its outcome category says: reached →
    completed; retryable → try again per the retry policy (or unreachable when no attempt
    is left); terminal → unreachable, flagging the number or the contact where it applies."""
    now = now or clock.now()
    task = _locked(task)
    _refuse_closed(task)
    _refuse_held(task, agent, now)
    category = attempt.outcome.category
    if task.tier == 3 and category == Category.REACHED and attempt.audit_agrees is None:
        raise ValidationError(
            {"audit_agrees": _("Say whether the answers agree with the original call.")}
        )
    if attempt.phone is not None and attempt.phone.contact_id != task.contact_id:
        raise ValidationError(_("This phone number belongs to another contact."))

    record = CallAttempt.objects.create(
        task=task,
        agent=agent,
        phone=attempt.phone,
        channel=task.channel,
        started_at=now,
        duration_seconds=attempt.duration_seconds,
        outcome=attempt.outcome,
        category=category,
        notes=attempt.notes,
        callback_at=attempt.callback_at if category in RETRYABLE else None,
        recovered=attempt.recovered and category == Category.REACHED,
        audit_agrees=attempt.audit_agrees if task.tier == 3 else None,
    )
    task.attempts_count += 1
    task.last_outcome = category
    task.claimed_by = task.claimed_until = None
    task.status = Status.PENDING

    contact = task.contact
    if category == Category.REACHED:
        _close(task, Status.COMPLETED, "", now)
        task.reached_in_window = task.opens_at <= now < task.due_at
        task.result_summary = attempt.notes
        if task.tier == 3:
            task.audit_agrees = attempt.audit_agrees
        if attempt.recovered:
            _encounter_recovered(task, now)
    elif category == Category.WRONG_NUMBER:
        if attempt.phone is not None:
            ContactPhone.objects.filter(pk=attempt.phone.pk).update(invalid=True)
        if ContactPhone.objects.filter(contact=contact, invalid=False).exists():
            task.next_attempt_at = now  # another number is on file: try it now
        else:
            _close(task, Status.UNREACHABLE, Reason.OUTCOME_TERMINAL, now)
    elif category in RETRYABLE:
        if task.attempts_count >= task.max_attempts:
            _close(task, Status.UNREACHABLE, Reason.ATTEMPTS_EXHAUSTED, now)
        else:
            earliest = attempt.callback_at or now + timedelta(hours=task.retry_gap_hours)
            if task.channel == RuleStep.Channel.PHONE:
                earliest = next_calling_time(
                    earliest, task_calling_hours(task), tenant_zone(connection.tenant)
                )
            task.next_attempt_at = earliest
    elif category == Category.DECEASED:
        _close(task, Status.UNREACHABLE, Reason.OUTCOME_TERMINAL, now)
        contacts_died([contact.pk], sparing=[task.pk], now=now)
    elif category == Category.OPTED_OUT:
        _close(task, Status.UNREACHABLE, Reason.OUTCOME_TERMINAL, now)
        contact_opt_out(contact, attempt.notes or str(attempt.outcome), except_task=task, now=now)
    elif category == Category.READMITTED:
        _close(task, Status.CANCELLED, Reason.READMITTED, now)
        contacts_tasks_cancel([contact.pk], reason=Reason.READMITTED, sparing=[task.pk], now=now)
    else:  # refused, language barrier, hearing impaired, transferred elsewhere
        _close(task, Status.UNREACHABLE, Reason.OUTCOME_TERMINAL, now)
    task.save()
    if task.status == Status.COMPLETED:
        webhooks.followup_completed(task, now=now)
    if task.status == Status.COMPLETED and task.tier == RuleStep.Tier.CENTRE:
        spot_check_draw(task, now=now)
    return record


def _close(task: FollowUpTask, status: str, reason: str, now: datetime) -> None:
    task.status, task.reason, task.completed_at = status, reason, now
    task.next_attempt_at = None


def contact_opt_out(contact, reason: str, *, except_task=None, now=None) -> None:
    """Do not contact again: flagged with the reason, open follow-ups cancelled, messages
    still waiting in the outbox cancelled."""

    now = now or clock.now()
    contact.do_not_contact = True
    contact.do_not_contact_reason = reason[:200]
    contact.do_not_contact_at = now
    contact.save(
        update_fields=["do_not_contact", "do_not_contact_reason", "do_not_contact_at", "updated_at"]
    )
    contacts_tasks_cancel(
        [contact.pk],
        reason=Reason.DO_NOT_CONTACT,
        sparing=[except_task.pk] if except_task is not None else [],
        now=now,
    )
    contact_messages_cancel(contact)


def task_answered(task: FollowUpTask, *, now=None) -> None:
    """A survey sent by link was answered: the follow-up it belongs to is done."""
    now = now or clock.now()
    completed = FollowUpTask.objects.filter(pk=task.pk, status__in=FollowUpTask.OPEN).update(
        status=Status.COMPLETED,
        reason="",
        completed_at=now,
        reached_in_window=task.opens_at <= now < task.due_at,
        next_attempt_at=None,
        claimed_by=None,
        claimed_until=None,
        result_summary=_("Survey answered"),
        updated_at=now,
    )
    if completed:
        task.refresh_from_db()
        webhooks.followup_completed(task, now=now)


def _encounter_recovered(task: FollowUpTask, now: datetime) -> None:
    """Repeating steps that run "until recovered" stop: their later occurrences are cancelled."""
    encounter = task.encounter
    encounter.recovered_at = now
    encounter.save(update_fields=["recovered_at", "updated_at"])
    repeating = FollowUpTask.objects.filter(
        encounter=encounter, step__stop_when=RuleStep.StopWhen.RECOVERED
    ).exclude(pk=task.pk)
    tasks_cancel(repeating, reason=Reason.RECOVERED, now=now)


@dataclass
class TickResult:
    released: int = 0
    closed: int = 0
    escalated: int = 0
    messages: int = 0
    pre_notices: int = 0
    survey_reminders: int = 0
    complaints_escalated: int = 0
    kpi_refreshed: int = 0
    anonymised: int = 0
    rejected_purged: int = 0
    exports_deleted: int = 0
    spot_checks_drawn: int = 0
    lapsed_planned: int = 0
    lapsed_came_back: int = 0
    # What is left waiting, not work done: two ticks that did nothing still compare equal.
    backlog: dict[str, int] = field(default_factory=dict, compare=False)


def followup_tick(*, now: datetime | None = None) -> TickResult:
    """The periodic pass over one tenant: give back claims nobody renewed, close tasks whose
    window (plus grace) has passed, move overdue tier-1 tasks that no clinician worked to
    the follow-up centre, plan the calls of lapsed customers (and cancel those of customers
    who came back), queue the messages of message follow-ups whose window opened, the
    SMS announcing the first call of phone follow-ups and the reminders of surveys not
    answered, and
    escalate overdue complaints, run the daily retention pass (anonymise contacts past the
    clinic's retention period, purge old rejected import rows and expired exports), bring
    the KPI summary up to date, and record what is left waiting for /metrics. Windows are
    stored as instants computed in the tenant's zone, so this works in the tenant's own
    local days."""
    now = now or clock.now()
    open_tasks = FollowUpTask.objects.filter(status__in=FollowUpTask.OPEN)
    result = TickResult()
    result.released = open_tasks.filter(status=Status.IN_PROGRESS, claimed_until__lte=now).update(
        status=Status.PENDING, claimed_by=None, claimed_until=None, updated_at=now
    )
    result.closed = open_tasks.filter(closes_at__lte=now).update(
        status=Status.UNREACHABLE,
        reason=Reason.WINDOW_CLOSED,
        completed_at=F("closes_at"),
        next_attempt_at=None,
        claimed_by=None,
        claimed_until=None,
        updated_at=now,
    )
    result.escalated = open_tasks.filter(
        tier=RuleStep.Tier.CLINICIAN, due_at__lte=now, escalated_at__isnull=True, attempts_count=0
    ).update(assignee=None, department=None, tier=RuleStep.Tier.CENTRE, escalated_at=now)
    # Before the messages: a lapsed customer's message step opens the day they lapse.
    lapsed = lapsed_customers_plan(now=now)
    result.lapsed_planned, result.lapsed_came_back = lapsed.planned, lapsed.came_back
    result.messages = message_steps_due(now=now)
    result.pre_notices = pre_notices_due(now=now)
    result.survey_reminders = survey_reminders_due(now=now)
    result.complaints_escalated = complaints_escalate(now=now)
    result.spot_checks_drawn = spot_checks_weekly(now=now)
    retained = retention_run(now=now)
    result.anonymised = retained.anonymised
    result.rejected_purged = retained.rejected_purged
    result.exports_deleted = retained.exports_deleted
    # The reports refresh what changed before they read; doing it here keeps that small.
    result.kpi_refreshed = kpi_summary.refresh()
    result.backlog = selectors.clinic_backlog(now=now)
    clinic_backlog_record(connection.tenant, result.backlog, now=now)
    return result

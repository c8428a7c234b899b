"""Complaints, suggestions and praise: receiving them, moving a complaint through its
statuses with a history of every change, its clock in working days that stands still while it
waits on the customer, and escalating overdue ones (DESIGN.md §4, §7a.4)."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from saas import clock
from tenants.links import tenant_url

from .. import workdays
from ..calendar import tenant_zone
from ..models import Complaint, ComplaintEvent, Praise
from ..models.messages import Channel, Purpose
from ..roles import Role
from . import webhooks
from .outbox import message_queue, message_render

Status = Complaint.Status
User = get_user_model()

# Fields a handler may change on an open complaint (the rest is set by the workflow).
EDITABLE = (
    "kind",
    "category",
    "severity",
    "department",
    "staff",
    "staff_name",
    "summary",
    "assignee",
    "corrective_action",
)


@dataclass(frozen=True)
class Milestones:
    acknowledge_by: datetime
    reply_by: datetime
    # The first year the holiday calendar did not know, counted with weekends only.
    unknown_year: int | None


def _clock() -> tuple[workdays.WorkCalendar, ZoneInfo]:
    tenant = connection.tenant
    return workdays.calendar_for(tenant.phone_region), tenant_zone(tenant)


def complaint_deadline(received_at: datetime) -> Milestones:
    """The acknowledge and reply milestones of a complaint received at ``received_at``, in the
    clinic's working days (its SLA settings)."""
    tenant = connection.tenant
    calendar, zone = _clock()
    acknowledge_by = workdays.add_working_days(
        received_at, tenant.complaint_ack_days, calendar=calendar, zone=zone
    )
    reply_by = workdays.add_working_days(
        received_at, tenant.complaint_reply_days, calendar=calendar, zone=zone
    )
    unknown = calendar.unknown_years(
        received_at.astimezone(zone).date(), reply_by.astimezone(zone).date()
    )
    return Milestones(
        acknowledge_by=min(acknowledge_by, reply_by),
        reply_by=reply_by,
        unknown_year=unknown[0] if unknown else None,
    )


@transaction.atomic
def complaint_open(*, summary: str, source: str, actor=None, now=None, **details) -> Complaint:
    """Receive a complaint or suggestion; its reply deadline follows the clinic's SLA."""
    now = now or clock.now()
    if not summary.strip():
        raise ValidationError({"summary": _("Write down what the customer said.")})
    complaint = Complaint(summary=summary.strip(), source=source, created_by=actor, **details)
    milestones = complaint_deadline(now)
    complaint.acknowledge_by = milestones.acknowledge_by
    complaint.deadline = milestones.reply_by
    complaint.holidays_unknown_year = milestones.unknown_year
    complaint.full_clean(exclude=["contact", "encounter", "task", "survey_response"])
    complaint.save()
    Complaint.objects.filter(pk=complaint.pk).update(created_at=now)
    complaint.created_at = now
    received = ComplaintEvent.objects.create(
        complaint=complaint,
        actor=actor,
        action=ComplaintEvent.Action.CREATED,
        to_status=Status.OPEN,
    )
    # The history starts when the complaint was received (a survey answered earlier, an
    # import), like its clock.
    ComplaintEvent.objects.filter(pk=received.pk).update(at=now)
    webhooks.complaint_created(complaint, now=now)
    return complaint


def _label(complaint: Complaint, field: str) -> str:
    value = getattr(complaint, field)
    if hasattr(complaint, f"get_{field}_display"):
        return str(getattr(complaint, f"get_{field}_display")())
    if isinstance(value, User):
        return value.get_full_name() or value.email
    return "" if value is None else str(value)


@transaction.atomic
def complaint_update(complaint: Complaint, actor, **changes) -> Complaint:
    """Change the details of a complaint; the history keeps each field's old and new value."""
    unknown = changes.keys() - set(EDITABLE)
    if unknown:
        raise TypeError(f"Not editable: {sorted(unknown)}")
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if complaint.status == Status.CLOSED:
        raise ValidationError(_("This complaint is closed."), code="closed")
    diff = {}
    for field, value in changes.items():
        before = _label(complaint, field)
        setattr(complaint, field, value)
        after = _label(complaint, field)
        if before != after:
            diff[field] = [before, after]
    if not diff:
        return complaint
    complaint.full_clean(exclude=["contact", "encounter", "task", "survey_response"])
    complaint.save()
    ComplaintEvent.objects.create(
        complaint=complaint, actor=actor, action=ComplaintEvent.Action.EDITED, changes=diff
    )
    return complaint


def _shown(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _clock_resume(complaint: Complaint, now: datetime) -> dict:
    """End the pause of a waiting complaint: the pause's working time moves the milestones
    still ahead of it. Returns the history's changes (the deadlines, before and after)."""
    calendar, zone = _clock()
    paused = workdays.working_time_between(complaint.paused_at, now, calendar=calendar, zone=zone)
    complaint.paused_at = None
    if not paused:
        return {}
    complaint.paused_for += paused
    changes = {}
    moved = ["deadline"] if complaint.acknowledged_at else ["acknowledge_by", "deadline"]
    for field in moved:
        before = getattr(complaint, field)
        after = workdays.add_working_time(before, paused, calendar=calendar, zone=zone)
        setattr(complaint, field, after)
        changes[field] = [_shown(before, zone), _shown(after, zone)]
    unknown = calendar.unknown_years(
        complaint.created_at.astimezone(zone).date(), complaint.deadline.astimezone(zone).date()
    )
    complaint.holidays_unknown_year = unknown[0] if unknown else None
    return changes


@transaction.atomic
def complaint_move(
    complaint: Complaint, actor, to_status: str, *, reply: str = "", note: str = "", now=None
) -> Complaint:
    """open → investigating → replied → closed. Replying needs the reply given to the
    customer; a replied complaint may be reopened for investigation; closed is final.
    Waiting on the customer (with a note of what was asked) stops the clock; leaving it (the
    customer answered) moves the deadlines by the working time it stood still. The first move
    out of open acknowledges the complaint, except closing it unanswered."""
    now = now or clock.now()
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if to_status not in Complaint.NEXT[complaint.status]:
        raise ValidationError(
            _("A complaint that is %(from)s cannot become %(to)s."),
            code="transition",
            params={
                "from": complaint.get_status_display(),
                "to": Status(to_status).label if to_status in Status.values else to_status,
            },
        )
    action = ComplaintEvent.Action.STATUS
    changes: dict = {}
    if to_status == Status.REPLIED:
        if not reply.strip():
            raise ValidationError({"reply": _("Write the reply given to the customer.")})
        complaint.reply = reply.strip()
        complaint.replied_at = now
        action = ComplaintEvent.Action.REPLIED
    if to_status == Status.WAITING:
        if not note.strip():
            raise ValidationError(
                {"note": _("Write what you asked the customer: the clock stops until they answer.")}
            )
        complaint.paused_at = now
        action = ComplaintEvent.Action.WAITING
    if complaint.status == Status.WAITING:
        changes = _clock_resume(complaint, now)
        if to_status == Status.INVESTIGATING:
            action = ComplaintEvent.Action.ANSWERED
    if to_status == Status.CLOSED:
        complaint.closed_at = now
    if complaint.acknowledged_at is None and to_status != Status.CLOSED:
        complaint.acknowledged_at = now
    from_status = complaint.status
    complaint.status = to_status
    complaint.save()
    ComplaintEvent.objects.create(
        complaint=complaint,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        changes=changes,
        note=(reply if action == ComplaintEvent.Action.REPLIED else note).strip(),
    )
    return complaint


def complaint_escalation_recipients(complaint: Complaint) -> tuple[list, bool]:
    """Who hears of an overdue complaint: the active supervisors of its department, or, when
    it has no department or the department no supervisor, every active supervisor and
    administrator. The flag says whether the department's own were found."""
    handlers = User.objects.filter(is_active=True, groups__name__in=[Role.SUPERVISOR, Role.ADMIN])
    if complaint.department_id is not None:
        own = list(
            User.objects.filter(
                is_active=True,
                groups__name=Role.SUPERVISOR,
                staff_profile__departments=complaint.department_id,
            )
            .distinct()
            .order_by("pk")
        )
        if own:
            return own, True
    return list(handlers.distinct().order_by("pk")), False


@transaction.atomic
def complaints_escalate(*, now: datetime | None = None) -> int:
    """Overdue complaints not yet answered are escalated once: flagged, written in their
    history, and their department's supervisors (everyone who handles complaints when the
    department has none) get an email through the outbox. A complaint waiting on the
    customer is not overdue: its clock stands still."""

    now = now or clock.now()
    overdue = list(
        Complaint.objects.select_for_update(skip_locked=True).filter(
            status__in=Complaint.UNANSWERED, deadline__lte=now, escalated_at__isnull=True
        )
    )
    if not overdue:
        return 0
    for complaint in overdue:
        recipients, departmental = complaint_escalation_recipients(complaint)
        complaint.escalated_at = now
        complaint.save(update_fields=["escalated_at", "updated_at"])
        ComplaintEvent.objects.create(
            complaint=complaint,
            action=(
                ComplaintEvent.Action.ESCALATED_DEPARTMENT
                if departmental
                else ComplaintEvent.Action.ESCALATED
            ),
        )
        webhooks.complaint_overdue(complaint, now=now)
        for user in recipients:
            if not user.email:
                continue
            subject, body = message_render(
                Purpose.COMPLAINT_OVERDUE,
                Channel.EMAIL,
                connection.tenant.locale,
                {
                    # The figures the alert names, not the complaint itself (its relations
                    # would reach the patient's details).
                    "complaint": {
                        "pk": complaint.pk,
                        "get_category_display": str(complaint.get_category_display()),
                        "deadline": complaint.deadline,
                    },
                    "complaint_url": complaint_url(complaint),
                },
            )
            message_queue(
                channel=Channel.EMAIL,
                purpose=Purpose.COMPLAINT_OVERDUE,
                to=user.email,
                subject=subject,
                body=body,
                now=now,
                respect_hours=False,  # an alert to staff, not a message to a patient
            )
    return len(overdue)


def complaint_url(complaint: Complaint) -> str:
    from django.urls import reverse

    return tenant_url(connection.tenant, reverse("complaint_detail", args=[complaint.pk]))


def praise_record(*, source: str, actor=None, **details) -> Praise:
    if not (details.get("staff") or details.get("staff_name") or details.get("department")):
        raise ValidationError(_("Say who is praised: a staff member or a department."))
    praise = Praise(source=source, created_by=actor, **details)
    praise.full_clean(exclude=["contact", "encounter", "task", "survey_response"])
    praise.save()
    return praise

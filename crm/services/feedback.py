"""Complaints, suggestions and praise: receiving them, moving a complaint through its
statuses with a history of every change, and escalating overdue ones (DESIGN.md §4)."""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _

from saas import clock

from ..api import webhooks
from ..models import Complaint, ComplaintEvent, Praise
from ..models.messages import Channel, Purpose
from ..roles import Role

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


def complaint_deadline(received_at: datetime) -> datetime:
    return received_at + timedelta(days=connection.tenant.complaint_reply_days)


@transaction.atomic
def complaint_open(*, summary: str, source: str, actor=None, now=None, **details) -> Complaint:
    """Receive a complaint or suggestion; its reply deadline follows the clinic's SLA."""
    now = now or clock.now()
    if not summary.strip():
        raise ValidationError({"summary": _("Write down what the customer said.")})
    complaint = Complaint(summary=summary.strip(), source=source, created_by=actor, **details)
    complaint.deadline = complaint_deadline(now)
    complaint.full_clean(exclude=["contact", "encounter", "task", "survey_response"])
    complaint.save()
    Complaint.objects.filter(pk=complaint.pk).update(created_at=now)
    complaint.created_at = now
    ComplaintEvent.objects.create(
        complaint=complaint,
        actor=actor,
        action=ComplaintEvent.Action.CREATED,
        to_status=Status.OPEN,
    )
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


@transaction.atomic
def complaint_move(
    complaint: Complaint, actor, to_status: str, *, reply: str = "", note: str = "", now=None
) -> Complaint:
    """open → investigating → replied → closed. Replying needs the reply given to the
    customer; a replied complaint may be reopened for investigation; closed is final."""
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
    if to_status == Status.REPLIED:
        if not reply.strip():
            raise ValidationError({"reply": _("Write the reply given to the customer.")})
        complaint.reply = reply.strip()
        complaint.replied_at = now
        action = ComplaintEvent.Action.REPLIED
    if to_status == Status.CLOSED:
        complaint.closed_at = now
    from_status = complaint.status
    complaint.status = to_status
    complaint.save()
    ComplaintEvent.objects.create(
        complaint=complaint,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=(reply if action == ComplaintEvent.Action.REPLIED else note).strip(),
    )
    return complaint


@transaction.atomic
def complaints_escalate(*, now: datetime | None = None) -> int:
    """Overdue complaints not yet answered are escalated once: flagged, written in their
    history, and every supervisor and administrator gets an email through the outbox."""
    from .outbox import message_queue, message_render

    now = now or clock.now()
    overdue = list(
        Complaint.objects.select_for_update(skip_locked=True).filter(
            status__in=Complaint.UNANSWERED, deadline__lte=now, escalated_at__isnull=True
        )
    )
    if not overdue:
        return 0
    recipients = User.objects.filter(
        is_active=True, groups__name__in=[Role.SUPERVISOR, Role.ADMIN]
    ).distinct()
    for complaint in overdue:
        complaint.escalated_at = now
        complaint.save(update_fields=["escalated_at", "updated_at"])
        ComplaintEvent.objects.create(complaint=complaint, action=ComplaintEvent.Action.ESCALATED)
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

    from tenants.services import tenant_url

    return tenant_url(connection.tenant, reverse("complaint_detail", args=[complaint.pk]))


def praise_record(*, source: str, actor=None, **details) -> Praise:
    if not (details.get("staff") or details.get("staff_name") or details.get("department")):
        raise ValidationError(_("Say who is praised: a staff member or a department."))
    praise = Praise(source=source, created_by=actor, **details)
    praise.full_clean(exclude=["contact", "encounter", "task", "survey_response"])
    praise.save()
    return praise

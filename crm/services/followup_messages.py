"""Follow-ups that are messages, not calls (SMS, email and survey-link steps): when their
window opens the tick writes the message to the outbox, by the first channel of the clinic's
order that reaches the contact (WeChat, SMS, email), with a survey link when the step
carries a survey. A message follow-up without a survey is done once the message is sent; one
with a survey is done when the survey is answered, and closes with its window otherwise.
Also the one reminder of a survey not answered, and what holds messages back (DESIGN.md
§7a.8): a return visit booked, a survey sent lately (survey fatigue)."""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import formats, timezone
from django.utils.translation import override

from cms.selectors import articles_for_task
from saas import clock
from surveys import links
from surveys.models import SurveyInvitation
from surveys.selectors import contact_surveyed_since, survey_default

from ..models import FollowUpTask, Message, RuleStep
from ..models.messages import Channel, Purpose
from ..selectors import contact_return_visit_booked
from .channels import contact_routes
from .outbox import message_queue, message_render
from .wechat import wechat_text

Status = FollowUpTask.Status
Reason = FollowUpTask.Reason
BATCH = 2000


def message_steps_due(*, now: datetime | None = None) -> int:
    """Queue the message of every message follow-up whose window has opened."""
    now = now or clock.now()
    due = (
        FollowUpTask.objects.filter(status=Status.PENDING, attempts_count=0, opens_at__lte=now)
        .exclude(channel=RuleStep.Channel.PHONE)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .values_list("pk", flat=True)[:BATCH]
    )
    sent = 0
    for task_id in list(due):
        sent += task_message_queue(task_id, now=now)
    return sent


def _survey_for(task: FollowUpTask):

    survey = task.step.survey if task.step_id else None
    if survey is None and task.channel == RuleStep.Channel.SURVEY_LINK:
        survey = survey_default()
    return survey if survey is not None and survey.published_id else None


@transaction.atomic
def task_message_queue(task_id: int, *, now: datetime) -> int:
    task = (
        FollowUpTask.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contact", "step", "step__survey", "encounter")
        .filter(pk=task_id, status=Status.PENDING, attempts_count=0)
        .first()
    )
    if task is None:  # taken by another tick, or no longer due
        return 0
    contact = task.contact
    if contact_return_visit_booked(contact.pk, now=now):
        # They will be seen in person: no message and no survey. Cancelled (kept as history
        # with its reason, like a readmission), not excluded, so a re-plan leaves it closed.
        _close(task, Reason.RETURN_VISIT_BOOKED, now, status=Status.CANCELLED)
        return 0
    survey = _survey_for(task)
    if survey is not None and _surveyed_lately(contact.pk, now):
        # Survey fatigue: the message still goes, without its survey. What it carries for
        # the patient (the follow-up itself, education, "see a doctor if unwell") matters
        # more than one more rating, and a closed follow-up would read as a failed one.
        survey = None
    purpose = Purpose.SURVEY if survey is not None else Purpose.FOLLOW_UP
    # The clinic's channel order (WeChat → SMS → email by default) among what the step allows.
    routes = contact_routes(contact, step_channel=task.channel, purpose=purpose)
    if not routes:
        # Unreachable, not excluded: the encounter stays in the denominator (DESIGN.md §7).
        _close(task, Reason.NO_CONTACT, now)
        return 0
    channel, to = routes[0].channel, routes[0].to

    language = contact.language or connection.tenant.locale
    variables = {
        "contact_name": contact.name,
        "clinic_name": connection.tenant.name,
        "follow_up_name": task.name,
        "return_visit_date": _return_visit(task, language),
        "education_links": _education_links(task),
        "survey_link": "",
        "survey_code": "",
        "opt_out_link": "",
    }
    invitation = None
    if survey is not None:
        if channel == Channel.SMS and _single_rating(survey):
            purpose = Purpose.SURVEY_SMS
        invitation, token = links.invitation_create(
            survey, contact, task=task, channel=channel, short=channel == Channel.SMS, now=now
        )
        variables["survey_link"] = links.invitation_url(token)
        variables["survey_code"] = token if links.is_short(token) else ""
        variables["opt_out_link"] = links.opt_out_url(token)
    message = _contact_message_queue(
        channel,
        purpose,
        to,
        contact=contact,
        task=task,
        variables=variables,
        language=language,
        now=now,
    )
    if invitation is not None:
        invitation.message = message
        invitation.save(update_fields=["message"])
    task.attempts_count = 1
    task.last_outcome = ""
    task.save(update_fields=["attempts_count", "last_outcome", "updated_at"])
    return 1


def _contact_message_queue(
    channel: str, purpose: str, to: str, *, contact, task, variables: dict, language: str, now
):
    """Write a message to a contact in the outbox: its text in the clinic's template for the
    channel and language (a WeChat message is its template's fields, filled at sending)."""
    if channel == Channel.WECHAT:
        subject, body = "", wechat_text(purpose, variables)
    else:
        subject, body = message_render(purpose, channel, language, variables)
    return message_queue(
        channel=channel,
        purpose=purpose,
        to=to,
        subject=subject,
        body=body,
        contact=contact,
        task=task,
        now=now,
        variables=variables,
        language=language,
    )


def _single_rating(survey) -> bool:
    questions = survey.published.questions
    return len(questions) == 1 and questions[0]["kind"] == "rating"


def _surveyed_lately(contact_id: int, now: datetime) -> bool:
    days = connection.tenant.survey_interval_days
    return contact_surveyed_since(contact_id, now - timedelta(days=days))


def _close(
    task: FollowUpTask, reason: str, now: datetime, *, status: str = Status.UNREACHABLE
) -> None:
    task.status, task.reason, task.completed_at = status, reason, now
    task.save(update_fields=["status", "reason", "completed_at", "updated_at"])


# --- Anti-fraud pre-notice -------------------------------------------------------------------

# Sent this long before a phone follow-up's window opens: windows open at the clinic's
# midnight, so the SMS goes out (held to the clinic's message hours) the day before the first
# day of calls. Sent when the window opens it would race the first call of the morning.
PRE_NOTICE_LEAD = timedelta(days=1)


def pre_notices_due(*, now: datetime | None = None) -> int:
    """Queue the SMS before the first call (DESIGN.md §7a.3) of every phone follow-up whose
    step asks for one, from ``PRE_NOTICE_LEAD`` before its window opens until its first call:
    never twice for a task, nor to a contact who opted out or died; nothing while the clinic
    has not said which number it calls from."""
    now = now or clock.now()
    if not connection.tenant.caller_number:
        return 0
    announced = Message.objects.filter(task=OuterRef("pk"), purpose=Purpose.PRE_NOTICE)
    due = (
        FollowUpTask.objects.filter(
            status=Status.PENDING,
            attempts_count=0,
            channel=RuleStep.Channel.PHONE,
            step__pre_notice=True,
            opens_at__lte=now + PRE_NOTICE_LEAD,
            closes_at__gt=now,
        )
        .exclude(contact__do_not_contact=True)
        .exclude(contact__deceased=True)
        .filter(~Exists(announced))
        .values_list("pk", flat=True)[:BATCH]
    )
    sent = 0
    for task_id in list(due):
        sent += task_pre_notice_queue(task_id=task_id, now=now)
    return sent


@transaction.atomic
def task_pre_notice_queue(*, task_id: int, now: datetime) -> int:
    """Queue one follow-up's pre-notice SMS; 1 when queued. Under the task's lock, re-checks
    what the query chose: a second tick, a first call or an opt-out may have come between."""
    task = (
        FollowUpTask.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contact", "encounter")
        .filter(pk=task_id, status=Status.PENDING, attempts_count=0)
        .first()
    )
    if task is None:
        return 0
    contact = task.contact
    if (
        contact.do_not_contact
        or contact.deceased
        or Message.objects.filter(task=task, purpose=Purpose.PRE_NOTICE).exists()
    ):
        return 0
    # SMS only: the notice is about a phone call, to the phone that will ring.
    routes = contact_routes(
        contact,
        step_channel=RuleStep.Channel.SMS,
        purpose=Purpose.PRE_NOTICE,
        exclude=(Channel.WECHAT,),
    )
    if not routes:  # no usable number: the call cannot happen either, nothing to announce
        return 0
    tenant = connection.tenant
    language = contact.language or tenant.locale
    with override(language):
        encounter_date = formats.date_format(
            timezone.localtime(task.encounter.occurred_at), "DATE_FORMAT"
        )
    variables = {
        "contact_name": contact.name,
        "clinic_name": tenant.name,
        "caller_number": tenant.caller_number,
        "encounter_date": encounter_date,
        "follow_up_name": task.name,
    }
    _contact_message_queue(
        Channel.SMS,
        Purpose.PRE_NOTICE,
        routes[0].to,
        contact=contact,
        task=task,
        variables=variables,
        language=language,
        now=now,
    )
    return 1


# --- Survey reminders ------------------------------------------------------------------------

# A one-question SMS is answered by replying a digit to it (crm.services.sms_replies); a second
# such SMS would leave the reply ambiguous, so only link surveys are reminded.
_REMINDED_PURPOSES = (Purpose.SURVEY,)


def survey_reminders_due(*, now: datetime | None = None) -> int:
    """Queue the one reminder of every survey link not answered after the clinic's
    ``survey_reminder_days``: never for one answered or expired, nor to a contact who opted
    out or died, nor for a follow-up closed meanwhile. Idempotent: an invitation is reminded
    at most once."""
    now = now or clock.now()
    days = connection.tenant.survey_reminder_days
    if not days:
        return 0
    due = (
        SurveyInvitation.objects.filter(
            answered_at__isnull=True,
            reminded_at__isnull=True,
            created_at__lte=now - timedelta(days=days),
            expires_at__gt=now,
            message__purpose__in=_REMINDED_PURPOSES,
            message__status__in=(Message.Status.SENT, Message.Status.DELIVERED),
        )
        .filter(Q(task__isnull=True) | Q(task__status__in=FollowUpTask.OPEN))
        .exclude(contact__do_not_contact=True)
        .exclude(contact__deceased=True)
        .values_list("pk", flat=True)[:BATCH]
    )
    sent = 0
    for invitation_id in list(due):
        sent += invitation_remind(invitation_id, now=now)
    return sent


@transaction.atomic
def invitation_remind(invitation_id: int, *, now: datetime) -> int:
    """Queue one invitation's reminder, by the channel of its first message, with a link of
    its own; 1 when a reminder was queued. Re-checks under a lock what the query chose: an
    answer or an opt-out may have come in between."""
    invitation = (
        SurveyInvitation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contact", "message", "template", "task")
        .filter(pk=invitation_id, answered_at__isnull=True, reminded_at__isnull=True)
        .first()
    )
    if invitation is None:
        return 0
    contact = invitation.contact
    task = invitation.task
    if (
        invitation.expires_at <= now
        or contact.do_not_contact
        or contact.deceased
        or (task is not None and not task.is_open)
    ):
        return 0
    routes = []
    if not contact_return_visit_booked(contact.pk, now=now):
        # By the clinic's channel order, as the invitation itself went.
        routes = contact_routes(
            contact,
            step_channel=task.channel if task is not None else RuleStep.Channel.SURVEY_LINK,
            purpose=Purpose.SURVEY_REMINDER,
        )
    invitation.reminded_at = now
    invitation.save(update_fields=["reminded_at"])
    if not routes:  # nothing can carry it, or they will be seen: dropped, never retried
        return 0
    channel, to = routes[0].channel, routes[0].to
    token = links.invitation_reminder_link(invitation, short=channel == Channel.SMS)
    language = invitation.language or contact.language or connection.tenant.locale
    variables = {
        "contact_name": contact.name,
        "clinic_name": connection.tenant.name,
        "follow_up_name": task.name if task is not None else "",
        "return_visit_date": "",
        "education_links": "",
        "survey_link": links.invitation_url(token),
        "survey_code": token if links.is_short(token) else "",
        "opt_out_link": links.opt_out_url(token),
    }
    _contact_message_queue(
        channel,
        Purpose.SURVEY_REMINDER,
        to,
        contact=contact,
        task=task,
        variables=variables,
        language=language,
        now=now,
    )
    return 1


def _return_visit(task: FollowUpTask, language: str) -> str:
    later = (
        FollowUpTask.objects.filter(
            encounter_id=task.encounter_id, status__in=FollowUpTask.OPEN, opens_at__gt=task.opens_at
        )
        .order_by("opens_at")
        .values_list("opens_at", flat=True)
        .first()
    )
    if later is None:
        return ""
    with override(language):
        return formats.date_format(timezone.localtime(later), "DATE_FORMAT")


def _education_links(task: FollowUpTask) -> str:
    """Tracked links to the health-education articles of this follow-up, one per line."""

    return "\n".join(item.url for item in articles_for_task(task))

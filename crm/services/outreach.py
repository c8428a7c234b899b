"""Follow-ups that are messages, not calls (SMS, email and survey-link steps): when their
window opens the tick writes the message to the outbox, by the first channel of the clinic's
order that reaches the contact (WeChat, SMS, email), with a survey link when the step
carries a survey. A message follow-up without a survey is done once the message is sent; one
with a survey is done when the survey is answered, and closes with its window otherwise."""

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import override

from saas import clock

from ..models import FollowUpTask, RuleStep
from ..models.messages import Channel, Purpose
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
    from surveys.selectors import survey_default

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
    survey = _survey_for(task)
    purpose = Purpose.SURVEY if survey is not None else Purpose.FOLLOW_UP
    # The clinic's channel order (WeChat → SMS → email by default) among what the step allows.
    routes = contact_routes(contact, step_channel=task.channel, purpose=purpose)
    if not routes:
        wants_sms = task.channel in (RuleStep.Channel.SMS, RuleStep.Channel.SURVEY_LINK)
        _close(task, Reason.NO_PHONE if wants_sms else Reason.NO_EMAIL, now)
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
        "opt_out_link": "",
    }
    invitation = None
    if survey is not None:
        from surveys.services import invitation_create, invitation_url, opt_out_url

        if channel == Channel.SMS and _single_rating(survey):
            purpose = Purpose.SURVEY_SMS
        invitation, token = invitation_create(survey, contact, task=task, channel=channel, now=now)
        variables["survey_link"] = invitation_url(token)
        variables["opt_out_link"] = opt_out_url(token)
    if channel == Channel.WECHAT:
        subject, body = "", wechat_text(purpose, variables)
    else:
        subject, body = message_render(purpose, channel, language, variables)
    message = message_queue(
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
    if invitation is not None:
        invitation.message = message
        invitation.save(update_fields=["message"])
    task.attempts_count = 1
    task.last_outcome = ""
    task.save(update_fields=["attempts_count", "last_outcome", "updated_at"])
    return 1


def _single_rating(survey) -> bool:
    questions = survey.published.questions
    return len(questions) == 1 and questions[0]["kind"] == "rating"


def _close(task: FollowUpTask, reason: str, now: datetime) -> None:
    task.status, task.reason, task.completed_at = Status.UNREACHABLE, reason, now
    task.save(update_fields=["status", "reason", "completed_at", "updated_at"])


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
    from cms.selectors import articles_for_task

    return "\n".join(item.url for item in articles_for_task(task))

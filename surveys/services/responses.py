"""Survey responses: parsing and scoring answers, recording a response (from the public page,
a call or the API) with what it raises (complaints, praise, webhooks), and the patient's
opt-out through the link (DESIGN.md §6)."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from crm.models import FeedbackSource, FollowUpTask
from crm.services import feedback, webhooks
from crm.services.followup import attempt_log, contact_opt_out, task_answered
from saas import clock

from ..models import (
    QuestionKind,
    Satisfaction,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyVersion,
)

User = get_user_model()
Kind = QuestionKind

RANGES = {Kind.RATING: (1, 5), Kind.NPS: (0, 10), Kind.YES_NO: (0, 1)}
CHOICE_KINDS = (Kind.SINGLE, Kind.MULTIPLE)


@transaction.atomic
def invitation_opt_out(invitation: SurveyInvitation, *, now=None) -> None:
    """The contact's "stop contacting me": do-not-contact, open follow-ups cancelled,
    waiting messages cancelled."""
    contact_opt_out(invitation.contact, _("Opted out through a survey link"), now=now)


@dataclass
class Answers:
    """Validated answers by question key, and errors by question key."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


def answers_parse(version: SurveyVersion, data, *, staff_choices: dict | None = None) -> Answers:
    """Read one answer per question from form data (``data.get``/``getlist``): out-of-range
    numbers, unknown choices and missing required answers become errors, never values."""
    result = Answers()
    for question in version.questions:
        key, kind = question["key"], question["kind"]
        name = f"q_{key}"
        raw = data.getlist(name) if kind == Kind.MULTIPLE else (data.get(name) or "").strip()
        if not raw:
            if question["required"]:
                result.errors[key] = _("Please answer this question.")
            continue
        if kind in RANGES:
            low, high = RANGES[kind]
            try:
                number = int(raw)
            except ValueError:
                number = None
            if number is None or not low <= number <= high:
                result.errors[key] = _("Choose a value from %(low)s to %(high)s.") % {
                    "low": low,
                    "high": high,
                }
                continue
            result.values[key] = number
        elif kind in CHOICE_KINDS:
            allowed = {zh or en for zh, en in question["choices"]}
            picked = raw if kind == Kind.MULTIPLE else [raw]
            if not set(picked) <= allowed:
                result.errors[key] = _("Choose one of the answers offered.")
                continue
            result.values[key] = picked
        elif kind == Kind.STAFF:
            staff = (staff_choices or {}).get(raw)
            if staff is None:
                result.errors[key] = _("Choose one of the names offered.")
                continue
            result.values[key] = staff
        else:
            # PostgreSQL cannot store a NUL character in text; it carries no meaning here.
            result.values[key] = raw.replace("\x00", "")[:4000]
    return result


def score_of(version: SurveyVersion, values: dict) -> Decimal | None:
    """The overall rating when the survey has one and it was answered, else the mean of the
    dimension ratings answered; None without any rating."""
    ratings = [q for q in version.questions if q["kind"] == Kind.RATING and q["key"] in values]
    overall = [values[q["key"]] for q in ratings if q["dimension"] == "overall"]
    chosen = overall or [values[q["key"]] for q in ratings]
    if not chosen:
        return None
    mean = Decimal(sum(chosen)) / len(chosen)
    return mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def satisfaction_of(version: SurveyVersion, score: Decimal | None) -> str:
    if score is None:
        return ""
    if score >= version.satisfied_threshold:
        return Satisfaction.SATISFIED
    if score <= version.low_score_threshold:
        return Satisfaction.DISSATISFIED
    return Satisfaction.NEUTRAL


class AlreadyAnswered(Exception):
    pass


@transaction.atomic
def response_submit(
    version: SurveyVersion,
    values: dict,
    *,
    contact,
    source: str,
    invitation: SurveyInvitation | None = None,
    task: FollowUpTask | None = None,
    agent=None,
    language: str = "",
    now: datetime | None = None,
) -> SurveyResponse:
    """Record a response (answers already validated by answers_parse) and what it raises: a
    complaint for a dissatisfied score or a complaint answer, praise for a named staff member.
    A second submission of the same link or follow-up raises AlreadyAnswered and changes
    nothing."""
    now = now or clock.now()
    if invitation is not None:
        invitation = SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.answered_at:
            raise AlreadyAnswered
        task = task or invitation.task
        invitation.answered_at = now
        invitation.save(update_fields=["answered_at"])
    encounter = task.encounter if task is not None else None
    score = score_of(version, values)
    nps = next(
        (
            values[q["key"]]
            for q in version.questions
            if q["kind"] == Kind.NPS and q["key"] in values
        ),
        None,
    )
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                version=version,
                template_id=version.template_id,
                source=source,
                invitation=invitation,
                task=task,
                contact=contact,
                encounter=encounter,
                department_id=encounter.department_id if encounter else None,
                answered_by=agent,
                language=language,
                score=score,
                nps=nps,
                satisfaction=satisfaction_of(version, score),
                submitted_at=now,
            )
    except IntegrityError as exc:  # this follow-up already has its response
        raise AlreadyAnswered from exc
    SurveyAnswer.objects.bulk_create(_answers(response, version, values))
    if task is not None and source != SurveyResponse.Source.CALL:
        task_answered(task, now=now)  # a call completes its task with the attempt
    complaint = _raise_feedback(response, version, values, agent=agent, now=now)
    webhooks.survey_answered(response, values, complaint=complaint, now=now)
    return response


def _answers(response: SurveyResponse, version: SurveyVersion, values: dict) -> list:
    answers = []
    for question in version.questions:
        key = question["key"]
        if key not in values:
            continue
        value = values[key]
        answer = SurveyAnswer(
            response=response,
            question_key=key,
            kind=question["kind"],
            dimension=question["dimension"],
        )
        if isinstance(value, int):
            answer.number = value
        elif isinstance(value, list):
            answer.choices = value
        elif isinstance(value, User):
            answer.staff = value
        else:
            answer.text = value
        answers.append(answer)
    return answers


def _raise_feedback(response, version, values, *, agent, now):
    """The complaint raised, if any; praise for each staff member named."""
    complaint = None
    where = {
        "contact": response.contact,
        "encounter": response.encounter,
        "task": response.task,
        "survey_response": response,
        "department": response.department,
    }
    texts = [
        values[q["key"]] for q in version.questions if q["kind"] == Kind.TEXT and q["key"] in values
    ]
    flagged = [
        q
        for q in version.questions
        if q["raises_complaint"] and values.get(q["key"]) not in (None, 0, "")
    ]
    if flagged or (
        version.complaint_on_low_score and response.satisfaction == Satisfaction.DISSATISFIED
    ):
        said = [values[q["key"]] for q in flagged if isinstance(values[q["key"]], str)]
        # Stored text, read by the clinic's staff: in the clinic's language, whoever answered
        # (a patient in English, a worker with no language at all).
        with translation.override(connection.tenant.locale):
            summary = "\n".join(said or texts) or _(
                "Dissatisfied survey response (score %(score)s)."
            ) % {"score": response.score}
        complaint = feedback.complaint_open(
            summary=summary, source=FeedbackSource.SURVEY, actor=agent, now=now, **where
        )
    for question in version.questions:
        if question["kind"] == Kind.STAFF and question["key"] in values:
            feedback.praise_record(
                source=FeedbackSource.SURVEY,
                actor=agent,
                staff=values[question["key"]],
                **where,
            )
    return complaint


def answers_given(data) -> bool:
    """Whether the agent filled in anything of the survey on the call page."""
    return any(key.startswith("q_") and value.strip() for key, value in data.items())


@transaction.atomic
def attempt_with_survey(task, agent, attempt, *, version=None, values=None, language="", now=None):
    """Log a call attempt and, when the contact was reached and answered the survey, its
    response, in one transaction: either both are kept or neither."""
    record = attempt_log(task, agent, attempt, now=now)
    if version is not None and values and attempt.outcome.category == "reached":
        response_submit(
            version,
            values,
            contact=task.contact,
            source=SurveyResponse.Source.CALL,
            task=task,
            agent=agent,
            language=language,
            now=now,
        )
    return record

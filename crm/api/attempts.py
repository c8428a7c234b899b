"""Logging a call made in another system (a call centre's CTI) on a follow-up, with the
answers to the follow-up's survey given in that call, through the same domain verbs as the
call page (surveys.services.responses.attempt_with_survey, answers checked by answers_parse)."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from saas import clock
from surveys import selectors as survey_selectors
from surveys.models import QuestionKind
from surveys.services import responses as survey_responses

from .. import selectors_api
from ..models import CallAttempt, FollowUpTask, OutcomeCategory, OutcomeCode
from ..roles import FILL_SURVEYS, WORK_TASKS
from ..services.followup import AttemptInput
from .errors import ApiError

Kind = QuestionKind
# A call is logged soon after it ends; older ones would move tasks by stale facts.
MAX_AGE = timedelta(days=7)

# The JSON types an answer of each kind may have (bool is an int to Python: told apart below).
ANSWER_TYPES = {
    Kind.RATING: gettext_lazy("integer"),
    Kind.NPS: gettext_lazy("integer"),
    Kind.YES_NO: gettext_lazy("true / false (or 1 / 0)"),
    Kind.SINGLE: gettext_lazy("string"),
    Kind.MULTIPLE: gettext_lazy("array of strings"),
    Kind.TEXT: gettext_lazy("string"),
    Kind.STAFF: gettext_lazy("integer (a staff id)"),
}


class _Posted:
    """JSON answers shaped as the call page's form data (``q_<key>`` fields), so that
    answers_parse checks them exactly as it checks an agent's."""

    def __init__(self, fields: dict):
        self.fields = fields

    def get(self, name, default=None):
        value = self.fields.get(name, default)
        return value if not isinstance(value, list) else default

    def getlist(self, name):
        value = self.fields.get(name)
        return value if isinstance(value, list) else []


def _as_form_value(kind: str, value):
    """The form text of a JSON answer, or None when its type does not fit the question."""
    if kind in (Kind.RATING, Kind.NPS, Kind.STAFF):
        fits = isinstance(value, int) and not isinstance(value, bool)
        return str(value) if fits else None
    if kind == Kind.YES_NO:
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value) if isinstance(value, int) else None
    if kind == Kind.MULTIPLE:
        fits = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return value if fits else None
    return value if isinstance(value, str) else None


def _answer_error(field: str, code: str, message: str) -> dict:
    return {"field": f"answers.{field}", "code": code, "message": message}


def answers_check(task: FollowUpTask, staff, outcome: OutcomeCode, answers: dict):
    """(version, values, language) of the answers sent for the task's survey, or ApiError:
    a survey the task does not have, answers to a call that did not reach the contact, an
    unknown question, a value of the wrong type or one answers_parse refuses."""
    version, language = survey_selectors.task_survey(task)
    if version is None:
        raise ApiError(
            422,
            "no_survey",
            _("This follow-up has no survey to answer; send the attempt without answers."),
            field="answers",
        )
    if outcome.category != OutcomeCategory.REACHED:
        raise ApiError(
            422,
            "answers_need_reached",
            _("Survey answers can only be recorded with an outcome that reached the contact."),
            field="answers",
        )
    if not staff.has_perm(FILL_SURVEYS):
        raise ApiError(
            422,
            "agent_cannot_fill_surveys",
            _("“%(agent)s” may not fill in surveys.") % {"agent": staff.email},
            field="agent",
        )
    kinds = {q["key"]: q["kind"] for q in version.questions}
    errors, fields = [], {}
    for key, value in answers.items():
        if key not in kinds:
            errors.append(
                _answer_error(
                    key,
                    "unknown_question",
                    _("The survey has no question “%(key)s”.") % {"key": key},
                )
            )
            continue
        if value is None:
            continue
        posted = _as_form_value(kinds[key], value)
        if posted is None:
            errors.append(
                _answer_error(
                    key,
                    "wrong_type",
                    _("The answer must be of type: %(type)s.") % {"type": ANSWER_TYPES[kinds[key]]},
                )
            )
            continue
        fields[f"q_{key}"] = posted
    parsed = survey_responses.answers_parse(
        version, _Posted(fields), staff_choices=survey_selectors.staff_choices()
    )
    for key, message in parsed.errors.items():
        if any(e["field"] == f"answers.{key}" for e in errors):
            continue
        code = "answer_required" if f"q_{key}" not in fields else "invalid_answer"
        errors.append(_answer_error(key, code, str(message)))
    if errors:
        raise ApiError(
            422,
            "invalid_answers",
            _("Some survey answers are missing or not valid; nothing was recorded."),
            field=errors[0]["field"],
            errors=errors,
        )
    return version, parsed.values, language


def attempt_record(
    *,
    task_id: int,
    outcome: str,
    agent: str,
    at: datetime | None,
    duration_seconds: int | None,
    notes: str,
    callback_at: datetime | None,
    phone: str | None,
    recovered: bool,
    answers: dict | None = None,
) -> CallAttempt:
    now = clock.now()
    task = selectors_api.task_for_attempt(task_id)
    if task is None:
        raise ApiError(404, "not_found", _("No follow-up with this id."))
    code = selectors_api.outcome_code_active(outcome)
    if code is None:
        raise ApiError(
            422, "unknown_outcome", _("“%(code)s” is not an outcome code.") % {"code": outcome}
        )
    staff = selectors_api.staff_active_by_email(agent)
    if staff is None or not staff.has_perm(WORK_TASKS):
        raise ApiError(
            422,
            "unknown_agent",
            _("“%(agent)s” is not an active staff member who works follow-ups.") % {"agent": agent},
        )
    at = at or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at > now + timedelta(minutes=5) or at < now - MAX_AGE:
        raise ApiError(
            422, "invalid_time", _("The call time must be within the last 7 days, not later.")
        )
    number = None
    if phone:
        number = selectors_api.contact_phone(task.contact_id, phone)
        if number is None:
            raise ApiError(
                422, "unknown_phone", _("This number is not one of the contact's numbers.")
            )
    version, values, language = None, None, ""
    if answers:
        version, values, language = answers_check(task, staff, code, answers)
    try:
        return survey_responses.attempt_with_survey(
            task,
            staff,
            AttemptInput(
                outcome=code,
                notes=notes,
                callback_at=callback_at,
                duration_seconds=duration_seconds,
                phone=number,
                recovered=recovered,
            ),
            version=version,
            values=values,
            language=language,
            now=at,
        )
    except survey_responses.AlreadyAnswered as exc:
        raise ApiError(
            409,
            "already_answered",
            _("This follow-up's survey was already answered; nothing was recorded."),
            field="answers",
        ) from exc
    except ValidationError as exc:
        status, api_code = 422, "invalid"
        if getattr(exc, "code", None) in ("closed", "held"):
            status, api_code = 409, f"task_{exc.code}"
        raise ApiError(status, api_code, " ".join(exc.messages)) from exc

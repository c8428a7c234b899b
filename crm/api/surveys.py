"""Surveys of follow-ups: the responses with their answers, and the questions a follow-up's
call asks (what to send as `answers` when logging the call)."""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from surveys import selectors as survey_selectors
from surveys.models import QuestionKind, SurveyResponse
from surveys.services import responses as survey_responses

from .. import selectors_api
from .auth import scope_require
from .errors import ApiError
from .pagination import page
from .schemas import ERRORS, PAGE_ERRORS, Error, Id, Moment, PageQuery

router = Router(tags=["surveys"])


class ResponseFilters(PageQuery):
    task_id: Id | None = None
    encounter_id: Id | None = None
    since: Moment | None = Field(None, description="Submitted at or after this time.")


class AnswerOut(Schema):
    question: str
    kind: str
    dimension: str
    number: int | None
    text: str
    choices: list


class ResponseOut(Schema):
    id: int
    template_id: int
    version: int
    source: str
    task_id: int | None
    encounter_id: int | None
    contact_id: int
    department_id: int | None
    score: float | None
    nps: int | None
    satisfaction: str
    submitted_at: datetime
    answers: list[AnswerOut]


class ResponsePage(Schema):
    items: list[ResponseOut]
    next: str | None


def _response(r: SurveyResponse) -> dict:
    return {
        "id": r.pk,
        "template_id": r.template_id,
        "version": r.version.number,
        "source": r.source,
        "task_id": r.task_id,
        "encounter_id": r.encounter_id,
        "contact_id": r.contact_id,
        "department_id": r.department_id,
        "score": float(r.score) if r.score is not None else None,
        "nps": r.nps,
        "satisfaction": r.satisfaction,
        "submitted_at": r.submitted_at,
        "answers": [
            {
                "question": a.question_key,
                "kind": a.kind,
                "dimension": a.dimension,
                "number": a.number,
                "text": a.text,
                "choices": a.choices,
            }
            for a in r.answers.all()
        ],
    }


@router.get(
    "/survey-responses",
    response={200: ResponsePage, **PAGE_ERRORS},
    operation_id="crm_api_api_survey_responses_list",
)
def survey_responses_list(request, filters: Query[ResponseFilters]):
    """Survey responses with their answers. Scope: read."""
    scope_require(request, "read")
    queryset = selectors_api.survey_responses_filtered(
        task_id=filters.task_id, encounter_id=filters.encounter_id, since=filters.since
    )
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_response)


class ChoiceOut(Schema):
    value: str | int = Field(description="What to send as the answer.")
    label_zh: str
    label_en: str


class SurveyQuestionOut(Schema):
    key: str = Field(description="The question's key: the name of its answer in `answers`.")
    kind: str = Field(
        description="rating (integer 1–5), nps (integer 0–10), yes_no (true / false), single "
        "(one choice's value), multiple (array of choice values), text (string), staff (a "
        "staff id from the choices)."
    )
    text_zh: str
    text_en: str
    dimension: str
    required: bool
    min: int | None
    max: int | None
    choices: list[ChoiceOut]
    raises_complaint: bool


class TaskSurveyOut(Schema):
    task_id: int
    template_id: int
    version: int
    name: str
    language: str = Field(description="The language to ask the questions in.")
    response_id: int | None = Field(description="The response already recorded, if any.")
    questions: list[SurveyQuestionOut]


def _question(question: dict, staff: dict) -> dict:
    low, high = survey_responses.RANGES.get(question["kind"], (None, None))
    if question["kind"] == QuestionKind.STAFF:
        choices = [
            {"value": user.pk, "label_zh": user.get_full_name(), "label_en": user.get_full_name()}
            for user in staff.values()
        ]
    else:
        choices = [
            {"value": zh or en, "label_zh": zh or en, "label_en": en or zh}
            for zh, en in question["choices"]
        ]
    return {
        "key": question["key"],
        "kind": question["kind"],
        "text_zh": question["text_zh"],
        "text_en": question["text_en"],
        "dimension": question["dimension"],
        "required": question["required"],
        "min": low,
        "max": high,
        "choices": choices,
        "raises_complaint": question["raises_complaint"],
    }


@router.get(
    "/tasks/{task_id}/survey",
    response={200: TaskSurveyOut, **ERRORS, 404: Error},
    summary="The survey a follow-up's call asks",
    operation_id="crm_api_api_task_survey",
)
def task_survey(request, task_id: Id):
    """The questions (and their choices) of the survey the follow-up's call asks: what to
    send as `answers` when logging the call. 404 `no_survey` when its step carries none.
    Scope: read."""
    scope_require(request, "read")
    task = selectors_api.task_with_survey(task_id)
    if task is None:
        raise ApiError(404, "not_found", _("Nothing with this id here."))
    version, language = survey_selectors.task_survey(task)
    if version is None:
        raise ApiError(404, "no_survey", _("This follow-up has no survey."))
    asks_staff = any(q["kind"] == QuestionKind.STAFF for q in version.questions)
    staff = survey_selectors.staff_choices() if asks_staff else {}
    return {
        "task_id": task.pk,
        "template_id": version.template_id,
        "version": version.number,
        "name": version.name,
        "language": language,
        "response_id": selectors_api.task_response_id(task.pk),
        "questions": [_question(q, staff) for q in version.questions],
    }

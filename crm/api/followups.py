"""Follow-ups: their tasks (what was done since the last poll), the attempts on them, and
logging a call made in a call-centre system, with the survey answers given in it."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Query, Router, Schema, Status

from .. import selectors_api
from ..models import CallAttempt, FollowUpTask
from . import attempts
from .auth import scope_require
from .pagination import page
from .schemas import (
    ERRORS,
    PAGE_ERRORS,
    AnswersError,
    Code,
    Error,
    Id,
    Moment,
    PageQuery,
    Text,
    choices,
)

router = Router(tags=["follow-ups"])


class TaskFilters(PageQuery):
    status: Annotated[FollowUpTask.Status, choices(FollowUpTask.Status)] | None = None
    encounter_id: Id | None = None
    source: Text | None = Field(None, description="With external_id: the encounter's tasks.")
    external_id: Text | None = None
    updated_since: Moment | None = None


class TaskOut(Schema):
    id: int
    encounter_id: int
    external_id: str
    contact_id: int
    name: str
    channel: str
    status: str
    reason: str = Field(
        description="Why the task was closed or excluded; no_contact: no usable phone number "
        "or email address (status unreachable: the encounter counts as eligible, not followed "
        "up)."
    )
    opens_at: datetime
    due_at: datetime
    closes_at: datetime
    attempts_count: int
    last_outcome: str
    reached_in_window: bool | None
    completed_at: datetime | None
    result_summary: str
    updated_at: datetime


class TaskPage(Schema):
    items: list[TaskOut]
    next: str | None


def _task(t: FollowUpTask) -> dict:
    return {
        "id": t.pk,
        "encounter_id": t.encounter_id,
        "external_id": t.encounter.external_id,
        "contact_id": t.contact_id,
        "name": t.name,
        "channel": t.channel,
        "status": t.status,
        "reason": t.reason,
        "opens_at": t.opens_at,
        "due_at": t.due_at,
        "closes_at": t.closes_at,
        "attempts_count": t.attempts_count,
        "last_outcome": t.last_outcome,
        "reached_in_window": t.reached_in_window,
        "completed_at": t.completed_at,
        "result_summary": t.result_summary,
        "updated_at": t.updated_at,
    }


@router.get(
    "/tasks", response={200: TaskPage, **PAGE_ERRORS}, operation_id="crm_api_api_tasks_list"
)
def tasks_list(request, filters: Query[TaskFilters]):
    """Follow-up tasks in id order: `status=completed&updated_since=…` reads back what was
    done since the last poll. Scope: read."""
    scope_require(request, "read")
    queryset = selectors_api.tasks_filtered(
        status=filters.status,
        encounter_id=filters.encounter_id,
        source=filters.source,
        external_id=filters.external_id,
        updated_since=filters.updated_since,
    )
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_task)


class AttemptFilters(PageQuery):
    task_id: Id | None = None
    since: Moment | None = Field(None, description="Attempts recorded at or after this time.")


class AttemptOut(Schema):
    id: int
    task_id: int
    agent_id: int
    channel: str
    started_at: datetime
    duration_seconds: int | None
    outcome: str
    category: str
    notes: str
    callback_at: datetime | None
    recovered: bool
    created_at: datetime


class AttemptPage(Schema):
    items: list[AttemptOut]
    next: str | None


def _attempt(a: CallAttempt) -> dict:
    return {
        "id": a.pk,
        "task_id": a.task_id,
        "agent_id": a.agent_id,
        "channel": a.channel,
        "started_at": a.started_at,
        "duration_seconds": a.duration_seconds,
        "outcome": a.outcome.code,
        "category": a.category,
        "notes": a.notes,
        "callback_at": a.callback_at,
        "recovered": a.recovered,
        "created_at": a.created_at,
    }


@router.get(
    "/attempts",
    response={200: AttemptPage, **PAGE_ERRORS},
    operation_id="crm_api_api_attempts_list",
)
def attempts_list(request, filters: Query[AttemptFilters]):
    """Attempts on follow-ups (calls, messages) with their outcome codes. Scope: read."""
    scope_require(request, "read")
    queryset = selectors_api.attempts_filtered(task_id=filters.task_id, since=filters.since)
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_attempt)


class AttemptIn(Schema):
    outcome: Code = Field(description="An outcome code of the clinic (see the outcome codes page).")
    agent: Code = Field(description="The email of the staff member who made the call.")
    at: Moment | None = Field(None, description="When the call was made; now if omitted.")
    duration_seconds: int | None = Field(None, ge=0, le=86_400)
    notes: str = Field("", max_length=5000, pattern=r"^[^\x00]*$")
    callback_at: Moment | None = Field(None, description="For no answer / busy: call back then.")
    phone: Text | None = Field(None, description="The number called, as stored (E.164).")
    recovered: bool = False
    answers: dict[str, Any] | None = Field(
        None,
        max_length=200,
        description=(
            "The answers to the follow-up's survey given in this call (outcome of category "
            "reached only), by question key, as `GET /tasks/{task_id}/survey` lists them: "
            '`{"q1": 5, "q3": 9, "q4": "良好", "q5": ["Doctor", "Nurse"], "q6": true}`. '
            "Checked as on the call page: if one is refused, neither the attempt nor the "
            "response is recorded (422 `invalid_answers`, each refused answer in `errors` "
            "with its field and code: unknown_question, wrong_type, invalid_answer, "
            "answer_required)."
        ),
    )


class AttemptCreatedOut(AttemptOut):
    survey_response_id: int | None = Field(
        description="The survey response recorded with the call (see /survey-responses)."
    )


@router.post(
    "/tasks/{task_id}/attempts",
    response={
        201: AttemptCreatedOut,
        **ERRORS,
        400: Error,
        404: Error,
        409: AnswersError,
        422: AnswersError,
    },
    operation_id="crm_api_api_attempt_create",
)
def attempt_create(request, task_id: Id, payload: AttemptIn):
    """Log a call made in a call-centre or CTI system, and the survey answers given in it;
    the follow-up moves as the outcome's category says (reached completes it, no answer
    schedules a retry …). 404 for an unknown follow-up; 422 for an outcome code, agent or
    number the clinic does not have, or a time not within the last 7 days; 409 when the
    follow-up is closed or held, or its survey already answered. Scope: write."""
    scope_require(request, "write")
    result = attempts.attempt_record(task_id=task_id, **payload.dict())
    return Status(
        201,
        {
            **_attempt(result),
            "survey_response_id": (
                selectors_api.task_response_id(task_id) if payload.answers else None
            ),
        },
    )

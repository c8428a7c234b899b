"""The NinjaAPI of /api/v1/ and its endpoints. Thin: check the key's scope, parse, call a
service or a selector, shape the JSON. Ids and codes only; personal details only through
the contact endpoint, which is audit-logged like the contact page."""

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from django.db import IntegrityError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.openapi.docs import Swagger
from ninja.parser import Parser
from pydantic import AfterValidator

from saas.memory import gc_paused
from surveys import selectors as survey_selectors
from surveys import services as survey_services
from surveys.models import QuestionKind, SurveyResponse

from ..models import AuditEntry, CallAttempt, Complaint, Contact, Encounter, FollowUpTask
from ..services.audit import audit_record
from . import attempts, bulk, reports
from .auth import ApiKeyAuth, scope_require
from .errors import ApiError, handlers_install
from .pagination import page


class OrjsonParser(Parser):
    """Bodies parsed by orjson: half the time of the json module for a 10,000-row push. A
    body it cannot read is a 400 like any other unreadable body."""

    def parse_body(self, request):
        return orjson.loads(request.body)


# The nightly push from a shell, as the docs show it (and tests/api/test_done_when.py runs it).
CURL_PUSH = (
    'curl -sS -X POST "$CAREBRIDGE_URL/api/v1/encounters/bulk"'
    ' -H "Authorization: Bearer $CAREBRIDGE_API_KEY" -H "Content-Type: application/json"'
    " --data-binary @discharges.json"
)

api = NinjaAPI(
    title="CareBridge API",
    version="1",
    description=(
        "The integration API of one clinic, on the clinic's own domain. Authenticate with an "
        "API key made by the clinic's administrator (page API, /settings/api-keys/): "
        "`Authorization: Bearer cb_…`. Errors are JSON `{code, message}`.\n\n"
        "Yesterday's discharges from a shell, `discharges.json` holding "
        '`{"source": "his", "rows": [{"external_id": "ZY2026-001", "name": "张伟", '
        '"occurred_at": "2026-11-22 10:30", "phone": "13800138001", "department": "骨科"}]}`, '
        "with `CAREBRIDGE_URL` the clinic's address and `CAREBRIDGE_API_KEY` its key:\n\n"
        f"    {CURL_PUSH}"
    ),
    auth=ApiKeyAuth(),
    docs=Swagger(),
    parser=OrjsonParser(),
    urls_namespace="api_v1",
)
handlers_install(api)

# Ids fit PostgreSQL's integer; text has no NUL byte (PostgreSQL refuses it): anything else
# is a 422 from the schema instead of a database error.
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Text = Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")]


def _moment(value: datetime) -> datetime:
    """In UTC (PostgreSQL refuses offsets past ±16 h); a time without offset is the clinic's."""
    if not 1900 <= value.year <= 2999:
        raise ValueError("a date between 1900 and 2999")
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError("not a valid time") from exc


Moment = Annotated[datetime, AfterValidator(_moment)]


class Error(Schema):
    code: str
    message: str


class FieldError(Schema):
    field: str
    code: str | None = Field(None, description="For survey answers: unknown_question, …")
    message: str


class AnswersError(Schema):
    """An error of a call with survey answers: ``field`` names the first refused one."""

    code: str
    message: str
    field: str | None = None
    errors: list[FieldError] = []


class RateLimited(Schema):
    code: str = Field(description="`rate_limited`")
    message: str
    retry_after: int = Field(
        description="Seconds until the key's next minute; also in the `Retry-After` header."
    )


ERRORS = {401: Error, 403: Error, 404: Error, 413: Error, 422: Error, 429: RateLimited}


# --- Bulk intake ------------------------------------------------------------------------


class BulkIn(Schema):
    source: str = Field(
        "his",
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The sending system; encounters are identified by (source, external_id).",
    )
    rows: list[dict[str, Any]] = Field(
        description=(
            "Up to 10,000 rows. Fields as in the CSV import: external_id (required), name "
            "(required), occurred_at (required, e.g. 2026-11-22 10:30, in the clinic's time "
            "zone), record_no, sex, age, birth_date, phone, phone2, email, address, department "
            "(code or name), attending, admitted_at, kind, diagnosis_code, diagnosis, "
            "procedure_code, procedure, treatment_course, discharge_outcome, length_of_stay, "
            "bed, tags, notes, serial_no."
        )
    )


class RowError(Schema):
    index: int
    field: str
    code: str
    message: str


class RowResult(Schema):
    index: int
    external_id: str
    id: int
    outcome: str


class BulkOut(Schema):
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[RowError]
    encounters: list[RowResult]


@api.post(
    "/encounters/bulk",
    response={200: BulkOut, **ERRORS, 409: Error},
    summary="Create or update contacts and encounters in bulk",
    tags=["encounters"],
)
def encounters_bulk(request, payload: BulkIn):
    """Rows that pass the checks are committed; each rejected row is listed with its index,
    field, code and message, and writes nothing. Sending the same rows again changes
    nothing (they are counted as unchanged). Scope: write."""
    scope_require(request, "write")
    if len(payload.rows) > bulk.MAX_ROWS:
        raise ApiError(
            413,
            "batch_too_large",
            _("At most %(max)s rows per call; this one has %(count)s.")
            % {"max": bulk.MAX_ROWS, "count": len(payload.rows)},
        )
    try:
        with gc_paused():
            result = bulk.encounters_bulk_upsert(source=payload.source, rows=payload.rows)
    except IntegrityError as exc:
        # Two concurrent calls claimed the same record number: this one wrote nothing.
        raise ApiError(
            409,
            "conflict",
            _("Another call changed the same records at the same time; send this batch again."),
        ) from exc
    # Serialised directly: the rows are plain ints and strings already, and validating
    # 10,000 of them against BulkOut (which still documents the answer) cost more than
    # writing them. tests/api/test_bulk.py checks the answer against the schema.
    body = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "errors": result.errors,
        "encounters": result.encounters,
    }
    return HttpResponse(orjson.dumps(body), content_type="application/json; charset=utf-8")


# --- Reads ------------------------------------------------------------------------------


class PageQuery(Schema):
    cursor: Text | None = Field(None, description="The `next` of the previous page.")
    limit: int = Field(100, ge=1, le=1000)


class EncounterFilters(PageQuery):
    source: Text | None = None
    external_id: Text | None = None
    kind: Encounter.Kind | None = None
    updated_since: Moment | None = None


class EncounterOut(Schema):
    id: int
    source: str
    external_id: str
    contact_id: int
    kind: str
    department: str | None
    occurred_at: datetime
    discharge_outcome: str
    recovered_at: datetime | None
    updated_at: datetime


class EncounterPage(Schema):
    items: list[EncounterOut]
    next: str | None


def _encounter(e: Encounter) -> dict:
    return {
        "id": e.pk,
        "source": e.source,
        "external_id": e.external_id,
        "contact_id": e.contact_id,
        "kind": e.kind,
        "department": e.department.code if e.department_id else None,
        "occurred_at": e.occurred_at,
        "discharge_outcome": e.discharge_outcome,
        "recovered_at": e.recovered_at,
        "updated_at": e.updated_at,
    }


@api.get("/encounters", response={200: EncounterPage, **ERRORS}, tags=["encounters"])
def encounters_list(request, filters: Query[EncounterFilters]):
    """Encounters in id order, without personal details. Scope: read."""
    scope_require(request, "read")
    queryset = Encounter.objects.select_related("department")
    if filters.source:
        queryset = queryset.filter(source=filters.source)
    if filters.external_id:
        queryset = queryset.filter(external_id=filters.external_id)
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.updated_since:
        queryset = queryset.filter(updated_at__gte=filters.updated_since)
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_encounter)


class TaskFilters(PageQuery):
    status: FollowUpTask.Status | None = None
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


@api.get("/tasks", response={200: TaskPage, **ERRORS}, tags=["follow-ups"])
def tasks_list(request, filters: Query[TaskFilters]):
    """Follow-up tasks in id order: `status=completed&updated_since=…` reads back what was
    done since the last poll. Scope: read."""
    scope_require(request, "read")
    queryset = FollowUpTask.objects.select_related("encounter")
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.encounter_id:
        queryset = queryset.filter(encounter_id=filters.encounter_id)
    if filters.external_id:
        queryset = queryset.filter(encounter__external_id=filters.external_id)
    if filters.source:
        queryset = queryset.filter(encounter__source=filters.source)
    if filters.updated_since:
        queryset = queryset.filter(updated_at__gte=filters.updated_since)
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


@api.get("/attempts", response={200: AttemptPage, **ERRORS}, tags=["follow-ups"])
def attempts_list(request, filters: Query[AttemptFilters]):
    """Attempts on follow-ups (calls, messages) with their outcome codes. Scope: read."""
    scope_require(request, "read")
    queryset = CallAttempt.objects.select_related("outcome")
    if filters.task_id:
        queryset = queryset.filter(task_id=filters.task_id)
    if filters.since:
        queryset = queryset.filter(created_at__gte=filters.since)
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_attempt)


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


@api.get("/survey-responses", response={200: ResponsePage, **ERRORS}, tags=["surveys"])
def survey_responses_list(request, filters: Query[ResponseFilters]):
    """Survey responses with their answers. Scope: read."""
    scope_require(request, "read")
    queryset = SurveyResponse.objects.select_related("version").prefetch_related("answers")
    if filters.task_id:
        queryset = queryset.filter(task_id=filters.task_id)
    if filters.encounter_id:
        queryset = queryset.filter(encounter_id=filters.encounter_id)
    if filters.since:
        queryset = queryset.filter(submitted_at__gte=filters.since)
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_response)


class ComplaintFilters(PageQuery):
    status: Complaint.Status | None = None
    updated_since: Moment | None = None


class ComplaintOut(Schema):
    id: int
    kind: str
    source: str
    category: str
    severity: str
    status: str
    contact_id: int | None
    encounter_id: int | None
    task_id: int | None
    department_id: int | None
    # The reply is due: working days from receipt, moved by time waiting on the customer.
    deadline: datetime
    acknowledge_by: datetime
    acknowledged_at: datetime | None
    created_at: datetime
    replied_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime


class ComplaintPage(Schema):
    items: list[ComplaintOut]
    next: str | None


def _complaint(c: Complaint) -> dict:
    return {
        "id": c.pk,
        "kind": c.kind,
        "source": c.source,
        "category": c.category,
        "severity": c.severity,
        "status": c.status,
        "contact_id": c.contact_id,
        "encounter_id": c.encounter_id,
        "task_id": c.task_id,
        "department_id": c.department_id,
        "deadline": c.deadline,
        "acknowledge_by": c.acknowledge_by,
        "acknowledged_at": c.acknowledged_at,
        "created_at": c.created_at,
        "replied_at": c.replied_at,
        "closed_at": c.closed_at,
        "updated_at": c.updated_at,
    }


@api.get("/complaints", response={200: ComplaintPage, **ERRORS}, tags=["feedback"])
def complaints_list(request, filters: Query[ComplaintFilters]):
    """Complaints and suggestions: their state and deadlines, not what was said. Scope: read."""
    scope_require(request, "read")
    queryset = Complaint.objects.all()
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.updated_since:
        queryset = queryset.filter(updated_at__gte=filters.updated_since)
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_complaint)


class PhoneOut(Schema):
    number: str
    label: str
    invalid: bool


class ContactOut(Schema):
    id: int
    name: str
    record_no: str
    sex: str
    birth_date: str | None
    phones: list[PhoneOut]
    deceased: bool
    do_not_contact: bool


@api.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, tags=["encounters"])
def contact_detail(request, contact_id: Id):
    """A contact's details. Every read is written to the clinic's audit log, as when staff
    open the contact's page. Scope: read."""
    scope_require(request, "read")
    contact = get_object_or_404(Contact, pk=contact_id)
    audit_record(
        request.auth.created_by,
        AuditEntry.Action.CONTACT_VIEWED,
        contact=contact,
        obj=f"api_key:{request.auth.pk}",
    )
    return {
        "id": contact.pk,
        "name": contact.name,
        "record_no": contact.record_no,
        "sex": contact.sex,
        "birth_date": contact.birth_date.isoformat() if contact.birth_date else None,
        "phones": [
            {"number": p.number, "label": p.label, "invalid": p.invalid}
            for p in contact.phones.all()
        ],
        "deceased": contact.deceased,
        "do_not_contact": contact.do_not_contact,
    }


# --- Surveys of follow-ups ---------------------------------------------------------------


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
    low, high = survey_services.RANGES.get(question["kind"], (None, None))
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


@api.get(
    "/tasks/{task_id}/survey",
    response={200: TaskSurveyOut, **ERRORS},
    summary="The survey a follow-up's call asks",
    tags=["surveys"],
)
def task_survey(request, task_id: Id):
    """The questions (and their choices) of the survey the follow-up's call asks: what to
    send as `answers` when logging the call. 404 `no_survey` when its step carries none.
    Scope: read."""
    scope_require(request, "read")
    task = get_object_or_404(FollowUpTask.objects.select_related("step__survey"), pk=task_id)
    version, language = survey_selectors.task_survey(task)
    if version is None:
        raise ApiError(404, "no_survey", _("This follow-up has no survey."))
    asks_staff = any(q["kind"] == QuestionKind.STAFF for q in version.questions)
    staff = survey_selectors.staff_choices() if asks_staff else {}
    response = SurveyResponse.objects.filter(task=task).values_list("pk", flat=True).first()
    return {
        "task_id": task.pk,
        "template_id": version.template_id,
        "version": version.number,
        "name": version.name,
        "language": language,
        "response_id": response,
        "questions": [_question(q, staff) for q in version.questions],
    }


# --- Writing attempts -------------------------------------------------------------------


class AttemptIn(Schema):
    outcome: Text = Field(description="An outcome code of the clinic (see the outcome codes page).")
    agent: Text = Field(description="The email of the staff member who made the call.")
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


@api.post(
    "/tasks/{task_id}/attempts",
    response={201: AttemptCreatedOut, **ERRORS, 422: AnswersError, 409: AnswersError},
    tags=["follow-ups"],
)
def attempt_create(request, task_id: Id, payload: AttemptIn):
    """Log a call made in a call-centre or CTI system, and the survey answers given in it;
    the follow-up moves as the outcome's category says (reached completes it, no answer
    schedules a retry …). Scope: write."""
    scope_require(request, "write")
    result = attempts.attempt_record(task_id=task_id, **payload.dict())
    response = SurveyResponse.objects.filter(task_id=task_id).values_list("pk", flat=True)
    return Status(
        201,
        {
            **_attempt(result),
            "survey_response_id": response.first() if payload.answers else None,
        },
    )


api.add_router("/reports", reports.router)

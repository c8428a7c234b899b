"""Reads of the integration API (crm.api), inside the current tenant's schema: the rows each
list endpoint pages through, filtered as its query says, and the single rows it shows."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from surveys.models import SurveyResponse

from .models import (
    CallAttempt,
    Complaint,
    Contact,
    ContactPhone,
    Encounter,
    FollowUpTask,
    OutcomeCode,
)

User = get_user_model()


def _filtered(queryset: QuerySet, **lookups) -> QuerySet:
    """The rows matching every lookup that was given (None and "" mean "any")."""
    given = {lookup: value for lookup, value in lookups.items() if value not in (None, "")}
    return queryset.filter(**given) if given else queryset


def encounters_filtered(
    *,
    source: str | None = None,
    external_id: str | None = None,
    kind: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Encounter]:
    return _filtered(
        Encounter.objects.select_related("department"),
        source=source,
        external_id=external_id,
        kind=kind,
        updated_at__gte=updated_since,
    )


def tasks_filtered(
    *,
    status: str | None = None,
    encounter_id: int | None = None,
    source: str | None = None,
    external_id: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[FollowUpTask]:
    return _filtered(
        FollowUpTask.objects.select_related("encounter"),
        status=status,
        encounter_id=encounter_id,
        encounter__external_id=external_id,
        encounter__source=source,
        updated_at__gte=updated_since,
    )


def attempts_filtered(
    *, task_id: int | None = None, since: datetime | None = None
) -> QuerySet[CallAttempt]:
    return _filtered(
        CallAttempt.objects.select_related("outcome"), task_id=task_id, created_at__gte=since
    )


def survey_responses_filtered(
    *,
    task_id: int | None = None,
    encounter_id: int | None = None,
    since: datetime | None = None,
) -> QuerySet[SurveyResponse]:
    return _filtered(
        SurveyResponse.objects.select_related("version").prefetch_related("answers"),
        task_id=task_id,
        encounter_id=encounter_id,
        submitted_at__gte=since,
    )


def complaints_filtered(
    *, status: str | None = None, updated_since: datetime | None = None
) -> QuerySet[Complaint]:
    return _filtered(Complaint.objects.all(), status=status, updated_at__gte=updated_since)


def contact_with_phones(contact_id: int) -> Contact | None:
    return Contact.objects.prefetch_related("phones").filter(pk=contact_id).first()


def task_with_survey(task_id: int) -> FollowUpTask | None:
    return FollowUpTask.objects.select_related("step__survey").filter(pk=task_id).first()


def task_response_id(task_id: int) -> int | None:
    """The survey response recorded for the follow-up, if any (one per task)."""
    return SurveyResponse.objects.filter(task_id=task_id).values_list("pk", flat=True).first()


def task_for_attempt(task_id: int) -> FollowUpTask | None:
    """The follow-up a call is logged on, with what the attempt and its survey read."""
    return FollowUpTask.objects.select_related("step__survey", "contact").filter(pk=task_id).first()


def outcome_code_active(code: str) -> OutcomeCode | None:
    return OutcomeCode.objects.filter(code=code, active=True).first()


def staff_active_by_email(email: str):
    """The active staff member of this address (any case), or None."""
    return User.objects.filter(email__iexact=email.strip(), is_active=True).first()


def contact_phone(contact_id: int, number: str) -> ContactPhone | None:
    """The contact's stored number that ``number`` is (as stored, E.164), or None."""
    return ContactPhone.objects.numbered(number).filter(contact_id=contact_id).first()

"""Encounters and their contacts: the hospital information system's nightly push (bulk
create or update by external id), the list of encounters, and a contact's details (every read
audit-logged, as when staff open the contact's page)."""

from datetime import datetime
from typing import Any

import orjson
from django.db import IntegrityError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from saas.memory import gc_paused

from .. import selectors_api, selectors_kinds
from ..models import Encounter
from ..services import records
from . import bulk
from .auth import scope_require
from .errors import ApiError
from .pagination import page
from .schemas import ERRORS, PAGE_ERRORS, Error, Id, Moment, PageQuery, Text

router = Router(tags=["encounters"])


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
            "(code or name), attending, responsible_nurse (a staff member's full name or "
            "email; an unknown one rejects the row), admitted_at, kind, diagnosis_code, diagnosis, "
            "procedure_code, procedure, treatment_course, discharge_outcome, length_of_stay, "
            "bed, tags, notes, serial_no. kind: the code or name of one of the clinic's "
            "encounter kinds (the built-in ones, e.g. discharge or sale, and those the clinic "
            "defined); empty: the clinic's usual kind; an unknown one rejects the row (code "
            "choice, the message lists the clinic's kinds)."
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


@router.post(
    "/encounters/bulk",
    response={200: BulkOut, **ERRORS, 400: Error, 409: Error},
    summary="Create or update contacts and encounters in bulk",
    operation_id="crm_api_api_encounters_bulk",
)
def encounters_bulk(request, payload: BulkIn):
    """Rows that pass the checks are committed; each rejected row is listed with its index,
    field, code and message, and writes nothing. Sending the same rows again changes
    nothing (they are counted as unchanged). 400 when the body is not JSON. Scope: write."""
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


class EncounterFilters(PageQuery):
    source: Text | None = None
    external_id: Text | None = None
    kind: Text | None = Field(
        None,
        description=(
            "An encounter kind's code: the built-in ones (discharge, surgery, outpatient, "
            "treatment_course, consultation, sale, maintenance, appointment) or one the clinic "
            "defined. An unknown code is refused (422, code unknown_kind, listing the clinic's)."
        ),
    )
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


@router.get(
    "/encounters",
    response={200: EncounterPage, **PAGE_ERRORS},
    operation_id="crm_api_api_encounters_list",
)
def encounters_list(request, filters: Query[EncounterFilters]):
    """Encounters in id order, without personal details. Scope: read."""
    scope_require(request, "read")
    if filters.kind is not None:
        kinds = selectors_kinds.kind_labels()
        if filters.kind not in kinds:
            raise ApiError(
                422,
                "unknown_kind",
                _("Unknown kind “%(kind)s”. The clinic's kinds: %(kinds)s.")
                % {"kind": filters.kind, "kinds": ", ".join(kinds)},
            )
    queryset = selectors_api.encounters_filtered(
        source=filters.source,
        external_id=filters.external_id,
        kind=filters.kind,
        updated_since=filters.updated_since,
    )
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_encounter)


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


@router.get(
    "/contacts/{contact_id}",
    response={200: ContactOut, **ERRORS, 404: Error},
    operation_id="crm_api_api_contact_detail",
)
def contact_detail(request, contact_id: Id):
    """A contact's details. Every read is written to the clinic's audit log, as when staff
    open the contact's page. Scope: read."""
    scope_require(request, "read")
    contact = selectors_api.contact_with_phones(contact_id)
    if contact is None:
        raise ApiError(404, "not_found", _("Nothing with this id here."))
    records.contact_viewed(contact, request.auth.created_by, via=f"api_key:{request.auth.pk}")
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

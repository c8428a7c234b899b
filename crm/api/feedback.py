"""Feedback: complaints and suggestions, their state and deadlines (not what was said)."""

from datetime import datetime
from typing import Annotated

from ninja import Query, Router, Schema

from .. import selectors_api
from ..models import Complaint
from .auth import scope_require
from .pagination import page
from .schemas import PAGE_ERRORS, Moment, PageQuery, choices

router = Router(tags=["feedback"])


class ComplaintFilters(PageQuery):
    status: Annotated[Complaint.Status, choices(Complaint.Status)] | None = None
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


@router.get(
    "/complaints",
    response={200: ComplaintPage, **PAGE_ERRORS},
    operation_id="crm_api_api_complaints_list",
)
def complaints_list(request, filters: Query[ComplaintFilters]):
    """Complaints and suggestions: their state and deadlines, not what was said. Scope: read."""
    scope_require(request, "read")
    queryset = selectors_api.complaints_filtered(
        status=filters.status, updated_since=filters.updated_since
    )
    return page(queryset, cursor=filters.cursor, limit=filters.limit, item=_complaint)

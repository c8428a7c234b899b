"""Downloading the list behind a KPI figure: a CSV in the reader's language, audit-logged."""

import io

from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.models import SurveyResponse

from ...models import AuditEntry, Complaint, FollowUpTask
from ...services.audit import audit_record
from ...spreadsheets import SafeCsvWriter
from ...vocabulary import clinic_vocabulary
from ..drills import Drill, drill_rows, encounter_followups
from ..figures.followup import NEVER_ATTEMPTED, unreachable_labels

CHUNK = 2000


def _local(moment, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(moment).strftime(pattern) if moment else ""


def _encounter_csv(drill: Drill, writer) -> None:
    outcomes = unreachable_labels()
    statuses = dict(FollowUpTask.Status.choices)
    writer.writerow(
        [
            _("Encounter date"),
            _("Department"),
            _("Name"),
            str(clinic_vocabulary().record_no),
            _("Follow-ups"),
            _("Last attempt"),
        ]
    )

    def write(batch: list) -> None:
        followups = encounter_followups([row.pk for row in batch])
        for row in batch:
            tasks = followups.get(row.pk, [])
            writer.writerow(
                [
                    _local(row.occurred_at, "%Y-%m-%d"),
                    row.department.name if row.department else "",
                    row.contact.name,
                    row.contact.record_no,
                    "; ".join(f"{task.name}: {statuses[task.status]}" for task in tasks),
                    outcomes.get(row.last_category or NEVER_ATTEMPTED, row.last_category),
                ]
            )

    # One pass over the rows; each batch's follow-ups in one query, never one per row.
    batch = []
    for row in drill_rows(drill).iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) == CHUNK:
            write(batch)
            batch = []
    write(batch)


def _response_csv(drill: Drill, writer) -> None:
    levels = dict(SurveyResponse._meta.get_field("satisfaction").choices)
    writer.writerow(
        [
            _("Submitted at"),
            _("Department"),
            _("Name"),
            _("Survey"),
            _("Satisfaction"),
            "NPS",
            _("Score"),
        ]
    )
    for row in drill_rows(drill).iterator(chunk_size=CHUNK):
        writer.writerow(
            [
                _local(row.submitted_at),
                row.department.name if row.department else "",
                row.contact.name,
                row.template.name,
                levels.get(row.satisfaction, "") if row.satisfaction else "",
                "" if row.nps is None else row.nps,
                "" if row.score is None else row.score,
            ]
        )


def _complaint_csv(drill: Drill, writer) -> None:
    categories = dict(Complaint.Category.choices)
    statuses = dict(Complaint.Status.choices)
    writer.writerow(
        [
            _("Number"),
            _("Received at"),
            _("Category"),
            _("Department"),
            _("Name"),
            _("Status"),
            _("Reply by"),
            _("Replied at"),
        ]
    )
    for row in drill_rows(drill).iterator(chunk_size=CHUNK):
        writer.writerow(
            [
                row.pk,
                _local(row.created_at),
                categories.get(row.category, row.category),
                row.department.name if row.department else "",
                row.contact.name if row.contact else "",
                statuses[row.status],
                _local(row.deadline),
                _local(row.replied_at),
            ]
        )


def drill_csv(drill: Drill, user) -> str:
    """The list behind a figure as CSV, with one audit entry for the download. Phone numbers
    are never in it."""
    audit_record(
        user, AuditEntry.Action.REPORT_LIST_EXPORTED, obj=f"{drill.figure} {drill.first:%Y-%m}"
    )
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    {"encounters": _encounter_csv, "responses": _response_csv, "complaints": _complaint_csv}[
        drill.kind
    ](drill, writer)
    return out.getvalue()

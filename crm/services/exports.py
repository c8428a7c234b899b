"""The clinic's full export (DESIGN.md §9, portability and offboarding): one ZIP holding a
CSV per table of the clinic's data, a JSON manifest and its uploaded media, built by a
worker into the clinic's own media storage (file system or S3 alike, through Django's
default storage, which is per tenant) under a private path, downloaded through the app by
administrators only, for EXPORT_DAYS days."""

import io
import json
import secrets
import shutil
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils.translation import gettext as _
from wagtail.documents import get_document_model
from wagtail.images import get_image_model

from saas import clock
from saas.celery import enqueue_on_commit
from surveys.models import (
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
    SurveyTemplate,
    SurveyVersion,
)

from ..fields import BlindIndexField
from ..models import (
    AuditEntry,
    CallAttempt,
    ClinicExport,
    Complaint,
    ComplaintEvent,
    Contact,
    ContactPhone,
    CorrectiveAction,
    Department,
    Encounter,
    FollowUpRule,
    FollowUpTask,
    InboundMessage,
    KpiTarget,
    Message,
    MessageTemplate,
    OutcomeCode,
    Praise,
    RegisterSignOff,
    ReportComment,
    RuleStep,
    StaffProfile,
)
from ..spreadsheets import SafeCsvWriter
from .audit import audit_record

User = get_user_model()

EXPORT_DAYS = 7
FOLDER = "exports"
# Bumped when a table or column of the export changes meaning (readers check it).
SCHEMA_VERSION = 1


def _tables() -> list[tuple[str, object, frozenset[str]]]:
    """(file name, queryset, columns left out). Secrets (password hashes, survey link
    hashes) are left out; API keys and webhook secrets are not exported at all."""
    return [
        ("contacts", Contact.objects.all(), frozenset()),
        ("contact_phones", ContactPhone.objects.all(), frozenset()),
        ("encounters", Encounter.objects.all(), frozenset()),
        ("departments", Department.objects.all(), frozenset()),
        ("follow_up_tasks", FollowUpTask.objects.all(), frozenset()),
        ("call_attempts", CallAttempt.objects.all(), frozenset()),
        ("outcome_codes", OutcomeCode.objects.all(), frozenset()),
        ("rules", FollowUpRule.objects.all(), frozenset()),
        ("rule_steps", RuleStep.objects.all(), frozenset()),
        ("complaints", Complaint.objects.all(), frozenset()),
        ("complaint_events", ComplaintEvent.objects.all(), frozenset()),
        ("praise", Praise.objects.all(), frozenset()),
        ("survey_templates", SurveyTemplate.objects.all(), frozenset()),
        ("survey_questions", SurveyQuestion.objects.all(), frozenset()),
        ("survey_versions", SurveyVersion.objects.all(), frozenset()),
        (
            "survey_invitations",
            SurveyInvitation.objects.all(),
            frozenset({"secret_hash", "reminder_hash"}),
        ),
        ("survey_responses", SurveyResponse.objects.all(), frozenset()),
        ("survey_answers", SurveyAnswer.objects.all(), frozenset()),
        ("messages", Message.objects.all(), frozenset()),
        ("inbound_messages", InboundMessage.objects.all(), frozenset()),
        ("message_templates", MessageTemplate.objects.all(), frozenset()),
        ("kpi_targets", KpiTarget.objects.all(), frozenset()),
        ("register_sign_offs", RegisterSignOff.objects.all(), frozenset()),
        ("report_comments", ReportComment.objects.all(), frozenset()),
        ("corrective_actions", CorrectiveAction.objects.all(), frozenset()),
        ("staff", User.objects.all(), frozenset({"password"})),
        ("roles", Group.objects.all(), frozenset()),
        ("staff_roles", User.groups.through.objects.all(), frozenset()),
        ("staff_profiles", StaffProfile.objects.all(), frozenset()),
        ("staff_departments", StaffProfile.departments.through.objects.all(), frozenset()),
        ("audit", AuditEntry.objects.all(), frozenset()),
    ]


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _table_csv(archive: zipfile.ZipFile, name: str, queryset, left_out: frozenset) -> int:
    columns = [
        f.attname
        for f in queryset.model._meta.concrete_fields
        if f.attname not in left_out
        and f.get_internal_type() != "BinaryField"
        # Blind indexes are keyed by this clinic's index key: meaningless anywhere else.
        and not isinstance(f, BlindIndexField)
    ]
    rows = 0
    # Through a text buffer per table: a few MB even for a large clinic's biggest table.
    with archive.open(f"{name}.csv", "w") as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        writer = SafeCsvWriter(out)
        writer.writerow(columns)
        for values in queryset.order_by("pk").values_list(*columns).iterator(chunk_size=2000):
            writer.writerow([_cell(v) for v in values])
            rows += 1
        out.flush()
        out.detach()
    return rows


def _media_names() -> list[str]:
    names = []
    for model in (get_image_model(), get_document_model()):
        names.extend(name for name in model.objects.values_list("file", flat=True) if name)
    return sorted(set(names))


def _media_copy(archive: zipfile.ZipFile, names: list[str]) -> tuple[int, list[str]]:
    copied, missing = 0, []
    for name in names:
        try:
            source = default_storage.open(name, "rb")
        except (FileNotFoundError, OSError):
            missing.append(name)
            continue
        with source, archive.open(f"media/{name}", "w") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        copied += 1
    return copied, missing


def clinic_export_request(*, user, purpose: str = ClinicExport.Purpose.PORTABILITY):
    """Queue a full export of the clinic. One at a time: a second request while one is
    being prepared (for less than a day) is refused."""

    # A request whose worker message was lost does not block the clinic for more than a day.
    waiting = ClinicExport.objects.filter(
        status=ClinicExport.Status.QUEUED, created_at__gt=clock.now() - timedelta(days=1)
    )
    if waiting.exists():
        raise ValidationError(
            _("An export is already being prepared; it will be listed here when ready."),
            code="queued",
        )
    export = ClinicExport.objects.create(requested_by=user, purpose=purpose)
    enqueue_on_commit("crm.tasks.clinic_export_task", export.pk)
    return export


def clinic_export_build(export_id: int) -> ClinicExport:
    """Write the ZIP of a queued export and store it; safe to run twice (a built export is
    left as it is). A failure is recorded on the export and raised to the worker."""
    export = ClinicExport.objects.get(pk=export_id)
    if export.status != ClinicExport.Status.QUEUED:
        return export
    try:
        with tempfile.TemporaryFile() as spool:
            counts = _archive_write(spool)
            spool.seek(0)
            name = default_storage.save(f"{FOLDER}/{secrets.token_hex(16)}.zip", File(spool))
            size = default_storage.size(name)
    except Exception as exc:
        ClinicExport.objects.filter(pk=export.pk).update(
            status=ClinicExport.Status.FAILED,
            failure=type(exc).__name__[:300],
            finished_at=clock.now(),
        )
        raise
    now = clock.now()
    export.status = ClinicExport.Status.READY
    export.path, export.size, export.counts = name, size, counts
    export.finished_at = now
    # A closing clinic's export stays until its schema and files are deleted.
    if export.purpose == ClinicExport.Purpose.PORTABILITY:
        export.expires_at = now + timedelta(days=EXPORT_DAYS)
    export.save()
    return export


def _archive_write(spool) -> dict:
    counts: dict[str, int] = {}
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # One snapshot for every table: rows written meanwhile do not half-appear.
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for name, queryset, left_out in _tables():
                counts[name] = _table_csv(archive, name, queryset, left_out)
            media = _media_names()
        copied, missing = _media_copy(archive, media)
        tenant = connection.tenant
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "clinic": {"name": tenant.name, "schema": tenant.schema_name},
            "created_at": clock.now().isoformat(),
            "tables": {name: f"{name}.csv" for name in counts},
            "counts": counts,
            "media": {"files": copied, "missing": missing},
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
    return counts | {"media": copied}


def clinic_export_open(export: ClinicExport, user):
    """The ZIP of a ready export, for an administrator to download; every download is
    audit-logged."""
    if export.status != ClinicExport.Status.READY:
        raise ValidationError(_("This export is no longer available."), code="gone")
    audit_record(user, AuditEntry.Action.CLINIC_EXPORTED, obj=export)
    return default_storage.open(export.path, "rb")


def clinic_exports_expire(*, now: datetime) -> int:
    """Delete the files of exports past their EXPORT_DAYS; the rows stay as the history."""
    expired = list(
        ClinicExport.objects.filter(status=ClinicExport.Status.READY, expires_at__lte=now)
    )
    for export in expired:
        default_storage.delete(export.path)
        export.status, export.path = ClinicExport.Status.EXPIRED, ""
        export.save(update_fields=["status", "path"])
    return len(expired)


def clinic_export_closing() -> ClinicExport | None:
    """The newest export made for the clinic's closing, if any."""
    return ClinicExport.objects.filter(purpose=ClinicExport.Purpose.CLOSING).first()

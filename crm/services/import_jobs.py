"""Import jobs of encounter registers (crm.models.ImportJob): upload, column mapping
(remembered per tenant), a dry-run preview with per-row errors, then the import itself in a
Celery task. Valid rows are committed whole (contact, phones and encounter together) by the
set-based write path the integration API uses too (crm.services.encounter_rows), invalid rows
are reported and downloadable, and importing the same file again changes nothing."""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Lower
from django.utils.translation import gettext as _

from saas import clock
from saas.celery import enqueue_on_commit
from saas.memory import gc_paused

from .. import registers
from ..calendar import tenant_zone
from ..models import AuditEntry, Department, Encounter, ImportJob, ImportMapping
from ..models.imports import REJECTED_ROWS_DAYS
from ..selectors_kinds import kind_lookup
from ..spreadsheets import SafeCsvWriter
from .audit import audit_record
from .encounter_rows import IntakeResult, encounters_intake
from .planning import encounters_plan_later

User = get_user_model()

SOURCE = "import"
# Rows per transaction, as many as one bulk API call: the progress bar moves per chunk, and
# a chunk's rows are written by a handful of statements whatever their number (100,000 rows
# import in 6.4 s in chunks of 10,000, in 7.4 s in chunks of 2,000).
CHUNK = 10_000
# A file that kills its worker each time (it runs out of memory, say) is given up after this
# many runs rather than handed from worker to worker for ever.
MAX_RUNS = 3
# A workbook "reading" this long after its upload with no reader lost its message (a reading
# takes at most crm.registers's time limit, five minutes, once a worker has it).
READ_LOST_AFTER = timedelta(minutes=10)
PREVIEW_ERRORS = 200  # row errors listed before importing (all are in the rejected-rows CSV)
PREVIEW_SAMPLE = 10


def import_upload(*, filename: str, content: bytes, user) -> ImportJob:
    """Keep the file and its headers; refuse what cannot be read, with the reason. A workbook
    is unpacked by a worker (``import_read``): the page shows it being read meanwhile."""
    job = ImportJob(created_by=user, filename=filename[:255], content=content)
    if registers.is_workbook(content):
        job.status = ImportJob.Status.READING
        job.save()
        _read_queue(job)
        return job
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ValidationError(_("The file is not a readable Excel workbook."))
    _table_read(job, content)
    job.save()
    return job


def _read_queue(job: ImportJob) -> None:

    enqueue_on_commit("crm.tasks.import_read_task", job.pk)


def import_read(job_id: int) -> ImportJob:
    """Unpack an uploaded workbook (crm.registers.xlsx_to_csv: its own process, a memory
    ceiling) and keep it as the CSV it holds, so nothing reads the workbook again; a workbook
    that cannot be read fails the import with the reason. Safe to run twice: a second
    message while the first is read does nothing (the runner's lock), one after it finds the
    job read."""
    with _runner_lock(job_id) as reader:
        if not reader:
            return ImportJob.objects.get(pk=job_id)
        return _workbook_read(ImportJob.objects.get(pk=job_id))


def _workbook_read(job: ImportJob) -> ImportJob:
    if job.status != ImportJob.Status.READING:
        return job
    try:
        content = registers.xlsx_to_csv(bytes(job.content))
        _table_read(job, content)
    except (registers.FileError, ValidationError) as exc:
        reason = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, failure=reason, **_finished([], [])
        )
        job.refresh_from_db()
        return job
    job.content = content
    job.status = ImportJob.Status.UPLOADED
    job.save(update_fields=["content", "headers", "mapping", "total_rows", "status"])
    return job


def _table_read(job: ImportJob, content: bytes) -> None:
    """The job's headers, guessed mapping and row count, from CSV content."""
    try:
        headers, rows = registers.read_table(job.filename, content)
    except registers.FileError as exc:
        raise ValidationError(str(exc)) from exc
    if any(not h for h in headers):
        raise ValidationError(_("Every column needs a heading in the first row."))
    if len(set(headers)) != len(headers):
        raise ValidationError(_("Two columns have the same heading; give each a unique name."))
    remembered = dict(ImportMapping.objects.values_list("header", "field"))
    job.headers = headers
    job.mapping = registers.mapping_guess(headers, remembered)
    job.total_rows = sum(1 for row in rows if not registers.row_is_blank(row))


def import_map(job: ImportJob, mapping: dict[str, str]) -> None:
    """Set header → field, each field from at most one column, the required ones present;
    remember it for the next file with the same headings."""
    chosen = {h: f for h, f in mapping.items() if f and h in job.headers}
    fields = list(chosen.values())
    errors = []
    unknown = set(fields) - set(registers.FIELD_KEYS)
    if unknown:
        errors.append(_("Unknown field."))
    for key in {f for f in fields if fields.count(f) > 1}:
        errors.append(
            _("%(field)s is chosen for more than one column.") % {"field": registers._label(key)}
        )
    for key in registers.REQUIRED:
        if key not in fields:
            errors.append(_("Choose the column of %(field)s.") % {"field": registers._label(key)})
    if errors:
        raise ValidationError(errors)
    job.mapping = chosen
    job.preview = _preview(import_check(job))
    with transaction.atomic():
        job.status = ImportJob.Status.MAPPED
        job.save(update_fields=["mapping", "preview", "status"])
        for header, key in chosen.items():
            ImportMapping.objects.update_or_create(header=header, defaults={"field": key})


def _preview(checked: "Checked") -> dict:
    """What the check found, kept on the job: the preview page shows it without reading the
    file again (a 200,000-row file takes seconds to check)."""
    return {
        "valid": len(checked.valid),
        "new": sum(1 for row in checked.valid if row.values["key"] not in checked.existing_keys),
        "existing": sum(1 for row in checked.valid if row.values["key"] in checked.existing_keys),
        "error_rows": checked.error_rows,
        "errors": checked.errors[:PREVIEW_ERRORS],
        "more_errors": max(0, len(checked.errors) - PREVIEW_ERRORS),
        "sample": [
            {
                "number": row.number,
                "name": row.values["name"],
                "date": row.values["occurred_at"].date().isoformat(),
                "kind": row.values["kind"],
                "phones": len(row.values["phones"]),
            }
            for row in checked.valid[:PREVIEW_SAMPLE]
        ],
    }


def _context() -> registers.RowContext:
    tenant = connection.tenant
    departments = {}
    for pk, code, name in Department.objects.values_list("pk", "code", "name"):
        departments[code.lower()] = pk
        departments[name.lower()] = pk
    staff = {}
    for pk, email, full_name in User.objects.filter(is_active=True).values_list(
        "pk", "email", Lower(Concat("first_name", Value(" "), "last_name"))
    ):
        staff[email.lower()] = pk
        staff[full_name.strip()] = pk
        staff[full_name.replace(" ", "")] = pk
    return registers.RowContext(
        zone=tenant_zone(tenant),
        region=tenant.phone_region,
        tenant_kind=tenant.kind,
        departments=departments,
        staff=staff,
        now=clock.now(),
        kinds=kind_lookup(synonyms=registers.KIND_SYNONYMS),
    )


@dataclass
class Checked:
    valid: list[registers.RowCheck] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {row, column, message}
    existing_keys: set[str] = field(default_factory=set)
    rows: list[list[str]] = field(default_factory=list, repr=False)  # the file's, as read

    @property
    def error_rows(self) -> int:
        return len({e["row"] for e in self.errors})


def import_check(job: ImportJob) -> Checked:
    """The dry run: every row checked, duplicates inside the file reported, and which
    encounters exist already. Writes nothing."""
    _headers, rows = registers.read_table(job.filename, bytes(job.content))
    ctx = _context()
    column_of = {key: job.headers.index(header) for header, key in job.mapping.items()}
    header_of = {key: header for header, key in job.mapping.items()}
    checked = Checked(rows=rows)
    first_row_of: dict[str, int] = {}
    for index, cells in enumerate(rows):
        if registers.row_is_blank(cells):
            continue
        raw = {key: cells[col] if col < len(cells) else "" for key, col in column_of.items()}
        row = registers.row_check(index + 2, raw, ctx)
        if not row.errors:
            key = row.values["key"]
            if key in first_row_of:
                row.error("", _("Same encounter as row %(row)s.") % {"row": first_row_of[key]})
            else:
                first_row_of[key] = row.number
        if row.errors:
            checked.errors.extend(
                {"row": row.number, "column": header_of.get(k, ""), "message": m}
                for k, m in row.errors
            )
        else:
            checked.valid.append(row)
    keys = list(first_row_of)
    for start in range(0, len(keys), 5000):
        checked.existing_keys.update(
            Encounter.objects.filter(
                source=SOURCE, external_id__in=keys[start : start + 5000]
            ).values_list("external_id", flat=True)
        )
    return checked


def import_queue(job: ImportJob) -> None:

    if job.status != ImportJob.Status.MAPPED:
        raise ValidationError(_("This import has already been started."))
    job.status = ImportJob.Status.QUEUED
    job.save(update_fields=["status"])
    enqueue_on_commit("crm.tasks.import_run_task", job.pk)


def import_run(job_id: int) -> ImportJob:
    """Commit the valid rows in chunks, set-based (crm.services.encounter_rows), record the rejected
    ones; the planning of every new or changed encounter is queued as each chunk commits, so
    several workers plan a large file at once. A run that died with its worker is resumed."""
    with _runner_lock(job_id) as runner:
        if not runner:  # another process is running it: a second message, or a sweep's
            return ImportJob.objects.get(pk=job_id)
        taken = ImportJob.objects.filter(
            pk=job_id,
            status__in=(
                ImportJob.Status.QUEUED,
                ImportJob.Status.MAPPED,
                ImportJob.Status.RUNNING,  # with its lock free: the runner is gone
            ),
        ).update(status=ImportJob.Status.RUNNING, runs=F("runs") + 1)
        job = ImportJob.objects.get(pk=job_id)
        if not taken:
            return job
        if job.runs > MAX_RUNS:
            import_fail(
                job_id,
                _("The import stopped its worker %(runs)s times and was given up.")
                % {"runs": MAX_RUNS},
            )
            job.refresh_from_db()
            return job
        return _import_commit(job)


@contextmanager
def _runner_lock(job_id: int) -> Iterator[bool]:
    """Whether this process may run the import: a PostgreSQL advisory lock on its database
    session, which PostgreSQL lets go the moment that session ends, however its process died.
    A running import whose lock is free has lost its runner."""
    key = [connection.schema_name, job_id]  # job ids repeat from clinic to clinic
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", key)
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", key)


def imports_orphaned() -> list[int]:
    """Running imports whose runner is gone (its worker died and the message did not come
    back: a whole worker lost, the broker restarted), for the tick to queue again."""
    orphaned = []
    for job_id in ImportJob.objects.filter(status=ImportJob.Status.RUNNING).values_list(
        "pk", flat=True
    ):
        with _runner_lock(job_id) as free:
            if free:
                orphaned.append(job_id)
    return orphaned


def imports_unread(*, now: datetime | None = None) -> list[int]:
    """Workbooks still "reading" well after their upload with nobody reading them: their
    message was lost (the broker was away when the upload committed), for the tick to send
    again."""
    now = now or clock.now()
    unread = []
    for job_id in ImportJob.objects.filter(
        status=ImportJob.Status.READING, created_at__lte=now - READ_LOST_AFTER
    ).values_list("pk", flat=True):
        with _runner_lock(job_id) as free:
            if free:
                unread.append(job_id)
    return unread


def _import_commit(job: ImportJob) -> ImportJob:
    with gc_paused():  # the file's rows are many small objects without cycles
        checked = import_check(job)
        progress = _Progress.resumed(job, checked)
        for start in range(progress.replay_from, len(checked.valid), CHUNK):
            chunk = [(row.number, row.values) for row in checked.valid[start : start + CHUNK]]
            refused: list[dict] = []
            with transaction.atomic():
                results = _chunk_commit(chunk, refused)
                if start < progress.committed:
                    # Committed by the run that died; written again (changing nothing) only
                    # to queue its planning, which that run may have died before sending.
                    _unchanged_plan(results)
                    continue
                progress.add(results, refused, len(chunk))
                ImportJob.objects.filter(pk=job.pk).update(**progress.fields())
    errors = sorted(checked.errors + progress.refused, key=lambda e: e["row"])
    ImportJob.objects.filter(pk=job.pk).update(
        **progress.fields()
        | _finished(errors, checked.rows)
        | {"status": ImportJob.Status.DONE, "processed_rows": job.total_rows, "errors": errors}
    )
    job.refresh_from_db()
    return job


def _finished(errors: list[dict], rows: list[list[str]]) -> dict:
    """What an import keeps once it ends, written with its final status: not the file (its
    rows are in the product now), only the rejected rows' cells, for REJECTED_ROWS_DAYS."""
    numbers = sorted({error["row"] for error in errors})
    return {
        "content": b"",
        "rejected_cells": {
            str(n): _storable(rows[n - 2]) for n in numbers if 0 <= n - 2 < len(rows)
        },
        "rejected_count": len(numbers),
        "finished_at": clock.now(),
    }


@dataclass
class _Progress:
    """What the committed chunks of an import wrote, saved in each chunk's transaction so a
    run resumed after its worker died carries on from the last commit with exact counts."""

    checked_errors: int
    committed: int = 0  # valid rows committed so far
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[dict] = field(default_factory=list)  # rows the database or the plan refused

    @classmethod
    def resumed(cls, job: ImportJob, checked: Checked) -> "_Progress":
        if job.runs == 1:
            return cls(len(checked.errors))
        return cls(
            len(checked.errors),
            committed=job.committed_rows,
            created=job.created_count,
            updated=job.updated_count,
            unchanged=job.unchanged_count,
            refused=list(job.errors),
        )

    @property
    def replay_from(self) -> int:
        """The last committed chunk is written again, the ones before it are skipped."""
        return max(0, self.committed - CHUNK)

    def add(self, results: list[IntakeResult], refused: list[dict], rows: int) -> None:
        for written in results:
            self.created += written.created
            self.updated += written.updated
            self.unchanged += written.unchanged
            refused.extend(
                {"row": number, "column": "", "message": message}
                for number, message in written.refused.items()
            )
        self.refused.extend(refused)
        self.committed += rows

    def fields(self) -> dict:
        return {
            "committed_rows": self.committed,
            "processed_rows": self.checked_errors + self.committed,
            "created_count": self.created,
            "updated_count": self.updated,
            "unchanged_count": self.unchanged,
            "errors": self.refused,
        }


def _unchanged_plan(results: list[IntakeResult]) -> None:
    encounters_plan_later(
        encounter_id
        for written in results
        for _key, encounter_id, _outcome in written.rows.values()
    )


def _chunk_commit(chunk: list[tuple[int, dict]], errors: list[dict]) -> list[IntakeResult]:
    """Write a chunk in one transaction. If the database refuses it (a row the checks let
    through), each half is written on its own, down to the single rows it refuses: the
    others still commit, the refused ones are reported with the database's reason."""
    try:
        with transaction.atomic():
            return [encounters_intake(source=SOURCE, rows=chunk)]
    except DatabaseError as exc:
        if len(chunk) == 1:
            errors.append({"row": chunk[0][0], "column": "", "message": str(exc)[:200]})
            return []
    middle = len(chunk) // 2
    return _chunk_commit(chunk[:middle], errors) + _chunk_commit(chunk[middle:], errors)


def _storable(cells: list[str]) -> list[str]:
    """PostgreSQL's JSON holds no NUL character (a row may be rejected for having one): it is
    kept as U+FFFD, which shows where it was."""
    return [cell.replace("\x00", "\ufffd") for cell in cells]


def import_fail(job_id: int, reason: str) -> None:
    """End an import as failed, with the reason; its file goes like a finished one's (the
    rows already refused keep their cells)."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return
    rows: list[list[str]] = []
    if job.errors and job.status != ImportJob.Status.READING:  # a CSV by now, cheap to read
        try:
            rows = registers.read_table(job.filename, bytes(job.content))[1]
        except registers.FileError:
            rows = []
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED, failure=reason[:500], **_finished(job.errors, rows)
    )


def import_errors_csv(job: ImportJob, user) -> str:
    """The rejected rows as they were in the file, with a column saying what is wrong.
    Raises ValidationError once they were deleted (REJECTED_ROWS_DAYS after the import)."""
    if job.rejected_purged_at:
        raise ValidationError(
            _("The rejected rows were deleted %(days)s days after the import, as all are.")
            % {"days": REJECTED_ROWS_DAYS},
            code="purged",
        )
    audit_record(user, AuditEntry.Action.IMPORT_ERRORS_EXPORTED, obj=job)
    headers = job.headers
    messages: dict[int, list[str]] = {}
    for error in job.errors:
        column = f"{error['column']}: " if error["column"] else ""
        messages.setdefault(error["row"], []).append(column + error["message"])
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow([_("Row"), *headers, _("Errors")])
    for number, text in sorted(messages.items()):
        cells = job.rejected_cells.get(str(number), [])
        writer.writerow([number, *cells, "; ".join(text)])
    return out.getvalue()

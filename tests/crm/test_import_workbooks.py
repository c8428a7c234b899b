"""Workbooks are unpacked by a worker, in a process of its own under a memory ceiling, and
kept as the CSV they hold; a workbook built to exhaust memory is refused with a reason and
costs the web and worker processes nothing (issue 18)."""

import io
import re
import resource
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext

from crm import registers
from crm.models import Encounter, ImportJob
from tests.crm.conftest import in_english
from tests.crm.test_imports import GOOD, HEADERS, job_id

pytestmark = pytest.mark.now("2026-11-24 09:00")

SHEET = "xl/worksheets/sheet1.xml"
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def workbook(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sheet_replaced(content: bytes, write_sheet) -> bytes:
    """The workbook with its first sheet's XML written by ``write_sheet(file)``, streamed, so
    that a test can build a sheet far larger than it would care to hold."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for item in source.infolist():
            if item.filename == SHEET:
                with book.open(SHEET, "w") as sheet:
                    write_sheet(sheet)
            else:
                book.writestr(item, source.read(item.filename))
    return out.getvalue()


def upload_read(client, content, django_capture_on_commit_callbacks, name="名单.xlsx"):
    """Upload; the worker reads the workbook when the upload commits."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302
    return job_id(response)


def too_large_in(tenant) -> str:
    """The reason a workbook past a limit is refused, in the clinic's language."""
    with translation.override(tenant.locale):
        return gettext(
            "The workbook is too large to read. Save the sheet as CSV (UTF-8), or split it "
            "into smaller files."
        )


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_sheet_declaring_16384_columns_is_read_only_as_wide_as_its_headings(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    honest = workbook([HEADERS, *GOOD])
    original = zipfile.ZipFile(io.BytesIO(honest)).read(SHEET)
    # What took 1.3 GB of the web process: a 5 KB file claiming A1:XFD10000.
    # Read as before, it padded 10,000 rows to 16,384 cells each: 1,318 MB measured.
    claimed = re.sub(
        rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:XFD10000"/>', original
    ).replace(b"</sheetData>", b'<row r="10000"><c r="XFD10000"/></row></sheetData>')
    assert b"XFD10000" in claimed
    bomb = sheet_replaced(honest, lambda sheet: sheet.write(claimed))
    assert len(bomb) < 10_000
    before = peak_memory_mb()

    pk = upload_read(admin_client_a, bomb, django_capture_on_commit_callbacks)

    assert peak_memory_mb() - before < 50
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.status, job.headers, job.total_rows) == ("uploaded", HEADERS, len(GOOD))
        assert not registers.is_workbook(bytes(job.content))  # kept as the CSV it holds
    page = admin_client_a.get(f"/imports/{pk}/").content.decode()
    assert "住院号" in page


def test_a_workbook_that_unpacks_past_the_memory_ceiling_is_refused_with_the_reason(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(registers, "XLSX_MEMORY_BYTES", 256 * 1024 * 1024)

    def one_huge_cell(sheet):
        sheet.write(
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
            '<row r="2"><c r="A2" t="inlineStr"><is><t>'.encode()
        )
        for _ in range(300):  # 300 MB of text, some 300 KB zipped
            sheet.write(b"a" * (1 << 20))
        sheet.write(b"</t></is></c></row></sheetData></worksheet>")

    bomb = sheet_replaced(workbook([["姓名"]]), one_huge_cell)
    assert len(bomb) < 1_000_000
    before = peak_memory_mb()

    with translation.override("en"):
        pk = upload_read(in_english(admin_client_a), bomb, django_capture_on_commit_callbacks)
        page = in_english(admin_client_a).get(f"/imports/{pk}/").content.decode()

    assert peak_memory_mb() - before < 50  # the ceiling was the reader's, not ours
    assert "The file could not be read" in page
    assert too_large_in(tenant_a) in page
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.status, bytes(job.content)) == ("failed", b"")
        assert not Encounter.objects.exists()


def test_too_many_columns_or_cells_are_refused_before_they_are_held(
    admin_client_a, tenant_a, django_capture_on_commit_callbacks, monkeypatch
):
    wide = workbook([[f"列{n}" for n in range(registers.MAX_COLUMNS + 1)], ["x"]])
    pk = upload_read(admin_client_a, wide, django_capture_on_commit_callbacks)
    monkeypatch.setattr(registers, "MAX_CELLS", len(HEADERS) * 2)
    pk_cells = upload_read(
        admin_client_a, workbook([HEADERS, *GOOD]), django_capture_on_commit_callbacks
    )

    with translation.override(tenant_a.locale):  # told in the clinic's language
        columns = gettext("The first row has more than %(max)s column headings.") % {
            "max": registers.MAX_COLUMNS
        }
    assert columns in admin_client_a.get(f"/imports/{pk}/").content.decode()
    assert too_large_in(tenant_a) in admin_client_a.get(f"/imports/{pk_cells}/").content.decode()


def test_a_file_named_xlsx_that_is_not_a_workbook_is_refused_at_once(admin_client_a):
    with translation.override("en"):
        response = in_english(admin_client_a).post(
            "/imports/", {"file": SimpleUploadedFile("list.xlsx", b"not a workbook")}
        )
    assert "The file is not a readable Excel workbook." in response.content.decode()


def test_the_preview_is_kept_and_the_file_is_not_read_again_on_each_view(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    pk = upload_read(admin_client_a, workbook([HEADERS, *GOOD]), django_capture_on_commit_callbacks)
    job = admin_client_a.get(f"/imports/{pk}/").context["job"]
    mapping = {f"col-{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    admin_client_a.post(f"/imports/{pk}/map/", mapping)
    with in_tenant(tenant_a):
        ImportJob.objects.filter(pk=pk).update(content=b"\x00 unreadable now")

    page = admin_client_a.get(f"/imports/{pk}/")

    assert page.status_code == 200
    assert page.context["preview"]["new"] == len(GOOD)
    assert "张三" in page.content.decode()


def test_another_clinic_cannot_see_a_workbook_being_read(
    admin_client_a, admin_client_b, tenant_a, in_tenant
):
    # Uploaded without running the worker: the job stays "reading".
    response = admin_client_a.post(
        "/imports/", {"file": SimpleUploadedFile("名单.xlsx", workbook([HEADERS, *GOOD]))}
    )
    pk = job_id(response)
    with in_tenant(tenant_a):
        assert ImportJob.objects.get(pk=pk).status == "reading"
    assert admin_client_b.get(f"/imports/{pk}/").status_code == 404
    assert admin_client_b.get(f"/imports/{pk}/progress/").status_code == 404


def test_a_workbook_that_breaks_the_reader_fails_with_a_reason_instead_of_hanging(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks, monkeypatch
):
    def reader_cannot_start(content):
        raise OSError("cannot start the reader")

    monkeypatch.setattr(registers, "xlsx_to_csv", reader_cannot_start)

    pk = upload_read(admin_client_a, workbook([HEADERS, *GOOD]), django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        assert ImportJob.objects.get(pk=pk).status == "failed"
    with translation.override(tenant_a.locale):
        reason = gettext("The file could not be read because of an error on our side.")
    assert reason in admin_client_a.get(f"/imports/{pk}/").content.decode()

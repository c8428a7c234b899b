"""The monthly report downloaded from its page in a browser, as XLSX and PDF, in both
languages."""

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context
from openpyxl import load_workbook
from pypdf import PdfReader

from crm.models import AuditEntry
from tenants.models import Tenant
from tests.conftest import audit_rows_purge, committed
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]


def download(page, selector: str, folder):
    """The file a click downloads, saved under its suggested name."""
    with page.expect_download() as event:
        page.click(selector)
    path = folder / event.value.suggested_filename
    event.value.save_as(path)
    return path


@pytest.fixture
def forget_downloads():
    """The live server commits its audit entries: remove them so alpha stays as it was."""
    yield

    def forget():
        with tenant_context(Tenant.objects.get(schema_name="alpha")):
            admin = get_user_model().objects.get(email="e2e-admin@alpha.test")
            audit_rows_purge(
                AuditEntry, action=AuditEntry.Action.REPORT_EXPORTED, actor_id=admin.pk
            )

    committed(forget)


def test_an_administrator_downloads_the_month_as_xlsx_and_pdf(
    page, tenant_url, screenshot, tmp_path, forget_downloads
):
    sign_in(page, tenant_url("alpha", "/accounts/login/"), "e2e-admin@alpha.test")
    page.goto(tenant_url("alpha", "/reports/?month=2026-10"))
    screenshot(page, "report-month-zh")

    workbook = download(page, "#report-xlsx", tmp_path)
    assert workbook.name == "followup-report-2026-10.xlsx"
    assert load_workbook(workbook).worksheets[0]["A1"].value == "回访报表 · 2026-10"

    document = download(page, "#report-pdf", tmp_path)
    assert document.name == "followup-report-2026-10.pdf"
    assert "回访报表" in PdfReader(document).pages[0].extract_text()

    page.click("button[name=language][value=en]")
    page.goto(tenant_url("alpha", "/reports/?month=2026-10"))
    assert page.locator("#report-pdf").inner_text() == "Download PDF"
    english = load_workbook(download(page, "#report-xlsx", tmp_path))
    assert english.worksheets[0]["A1"].value == "Follow-up report · 2026-10"

"""The monthly report downloaded as XLSX and PDF: the figures of crm.reporting.report on known data
(the KPI tests' November), in both languages, behind the export permission, audit-logged and
confined to the downloading tenant."""

import io

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from openpyxl import load_workbook
from pypdf import PdfReader

from crm.models import AuditEntry
from crm.roles import Role
from surveys.services.responses import response_submit
from tests.conftest import login
from tests.crm.test_kpi import at, complaint_made, world  # noqa: F401  (world: a fixture)
from tests.factories import ContactFactory, StaffFactory
from tests.surveys.conftest import survey_with

XLSX = "/reports/export.xlsx?month=2026-11"
PDF = "/reports/export.pdf?month=2026-11"


@pytest.fixture
def november(world, tenant_a, in_tenant):  # noqa: F811
    """World's encounters plus four complaints of the ward (three due in November, two replied
    on time, one of them exactly at its deadline), four rated survey responses and one unrated;
    the dissatisfied response raises a fifth complaint, of no department, due in November."""
    with in_tenant(tenant_a):
        supervisor = StaffFactory(email="export-sup@alpha.test", role="supervisor")
        StaffFactory(email="export-agent@alpha.test", role="agent")
        ward = world["ward"]
        for day, hours, category in (
            (2, 7 * 24, "fees"),
            (3, 7 * 24 + 1, "fees"),
            (4, 10, "attitude"),
            (25, None, "fees"),
        ):
            complaint_made(day, ward, supervisor, replied_after_hours=hours, category=category)
        version = survey_with(
            [
                {"kind": "rating", "text_zh": "总体", "dimension": "overall"},
                {"kind": "rating", "text_zh": "医生", "dimension": "doctor", "required": False},
                {"kind": "nps", "text_zh": "推荐", "required": False},
                {"kind": "text", "text_zh": "建议", "required": False},
            ]
        ).published
        contact = ContactFactory()
        for values in (
            {"q1": 5, "q2": 5, "q3": 10},
            {"q1": 4, "q2": 3, "q3": 9},
            {"q1": 3, "q3": 7},
            {"q1": 1, "q2": 1, "q3": 0},
            {"q4": "没有评分"},
        ):
            response_submit(version, values, contact=contact, source="call", now=at(15))
    return world


def download(client, url, language="zh-hans"):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client.get(url)


def rows(sheet) -> list[tuple]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def pdf_text(response) -> str:
    """The PDF's text without whitespace: a phrase is found wherever the layout wrapped it
    (compare with `flat`)."""
    pages = PdfReader(io.BytesIO(response.content)).pages
    return flat("\n".join(page.extract_text() for page in pages))


def flat(text: str) -> str:
    return "".join(text.split())


def test_the_workbook_holds_the_months_figures_exactly(november, client_a):
    login(client_a, "export-sup@alpha.test")
    response = download(client_a, XLSX, "en")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="followup-report-2026-11.xlsx"'
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Summary",
        "Departments",
        "Not followed up",
        "Satisfaction",
        "Complaints",
        "By kind of patient",
    ]
    summary = book["Summary"]
    assert rows(summary)[:14] == [
        ("Follow-up report · 2026-11", "Count", "Out of", "Rate", "Target", "Below target"),
        ("Eligible encounters", 6, None, None, None, None),
        ("Attempted · coverage rate", 4, 6, 0.6667, None, None),
        ("Followed up · follow-up rate", 2, 6, 0.3333, 0.8, "below target"),
        ("Lost to follow-up · loss rate", 1, 6, 0.1667, None, None),
        ("Timeliness", 1, 2, 0.5, None, None),
        ("Satisfaction rate", 2, 4, 0.5, 0.95, "below target"),
        ("neutral", 1, 4, 0.25, None, None),
        ("dissatisfied", 1, 4, 0.25, None, None),
        ("NPS", None, 4, 25, None, None),
        ("Complaints received", 5, None, None, None, None),
        ("Replied on time", 2, 4, 0.5, 0.95, "below target"),
        ("Median time to reply (hours)", None, None, 168, None, None),
        ("Spot-check agreement", 0, 0, "—", None, None),
    ]
    assert summary["D3"].number_format == "0.00 %" and summary["E4"].number_format == "0.00 %"
    assert summary["D10"].number_format == "0.00"  # NPS in points, not a percentage
    assert summary.freeze_panes == "A2"
    assert summary.column_dimensions["A"].width == 44
    assert [row[:2] for row in rows(summary)[14:16]] == [
        ("Transferred elsewhere", 0),
        ("Readmitted", 0),
    ]
    assert summary["A19"].value.startswith("Eligible: encounters of the month matched by a rule")

    ward = november["ward"].name
    assert rows(book["Departments"]) == [
        (
            "Department",
            "Eligible",
            "Attempted",
            "Followed up",
            "Follow-up rate",
            "Lost to follow-up",
            "Loss rate",
        ),
        (ward, 6, 4, 2, 0.3333, 1, 0.1667),
    ]
    unreachable = rows(book["Not followed up"])
    assert unreachable[:2] == [
        ("Not followed up, by the last attempt", "Count"),
        ("Never attempted", 2),
    ]
    assert sorted(unreachable[2:]) == [("Powered off", 1), ("Wrong or empty number", 1)]
    assert rows(book["Satisfaction"]) == [
        ("Dimension", "Answers", "Satisfied", "Satisfaction rate", "Score (0–100)"),
        ("Overall", 4, 2, 0.5, 56.25),
        ("Doctor", 3, 1, 0.3333, 50),
    ]
    assert rows(book["Complaints"]) == [
        ("Category", "Complaints", None, "Department", "Complaints"),
        ("Fees and billing", 3, None, ward, 4),
        ("Other", 1, None, "—", 1),
        ("Staff attitude", 1, None, None, None),
    ]


def test_the_workbook_speaks_chinese_when_the_request_does(november, client_a):
    login(client_a, "export-sup@alpha.test")
    book = load_workbook(io.BytesIO(download(client_a, XLSX, "zh-hans").content))

    assert book.sheetnames[:2] == ["概要", "科室"]
    summary = book.worksheets[0]
    assert summary["A1"].value == "回访报表 · 2026-11"
    assert summary["A4"].value == "已随访 · 回访率" and summary["F4"].value == "未达标"
    assert summary["D4"].value == 0.3333
    assert rows(book.worksheets[2])[1] == ("从未尝试", 2)
    assert summary["A19"].value.startswith("应随访")


def test_the_pdf_carries_the_key_figures_in_either_language(november, client_a):
    login(client_a, "export-sup@alpha.test")
    english = download(client_a, PDF, "en")
    chinese = download(client_a, PDF, "zh-hans")

    assert english.status_code == chinese.status_code == 200
    assert english["Content-Type"] == "application/pdf"
    assert english["Content-Disposition"] == 'attachment; filename="followup-report-2026-11.pdf"'
    assert len(PdfReader(io.BytesIO(english.content)).pages) <= 2
    text = pdf_text(english)
    for expected in (
        "Follow-up report · 2026-11",
        "Followed up · follow-up rate",
        "33.33 %",
        "66.67 %",
        "≥ 80.00 % (below target)",
        "Never attempted",
        "Fees and billing",
        "168.00",
        november["ward"].name,
        "Rates are computed from the counts shown.",
    ):
        assert flat(expected) in text, expected
    text = pdf_text(chinese)
    for expected in (
        "回访报表 · 2026-11",
        "已随访 · 回访率",
        "33.33 %",
        "≥ 80.00 % (未达标)",
        "从未尝试",
        "收费",
        "各比率均由所示计数计算。",
    ):
        assert flat(expected) in text, expected


def test_each_download_is_audit_logged_with_its_format_and_month(
    november, client_a, tenant_a, in_tenant
):
    login(client_a, "export-sup@alpha.test")
    download(client_a, XLSX)
    download(client_a, PDF)

    with in_tenant(tenant_a):
        entries = list(
            AuditEntry.objects.filter(
                action=AuditEntry.Action.REPORT_EXPORTED, actor__email="export-sup@alpha.test"
            )
            .order_by("pk")
            .values_list("actor__email", "object_id")
        )
    assert entries == [
        ("export-sup@alpha.test", "xlsx:2026-11"),
        ("export-sup@alpha.test", "pdf:2026-11"),
    ]


def test_without_the_export_permission_nothing_is_downloaded_or_logged(
    november, client_a, tenant_a, in_tenant
):
    login(client_a, "export-agent@alpha.test")
    assert download(client_a, XLSX).status_code == 403
    assert download(client_a, PDF).status_code == 403

    with in_tenant(tenant_a):
        assert not AuditEntry.objects.filter(
            action=AuditEntry.Action.REPORT_EXPORTED, actor__email="export-agent@alpha.test"
        ).exists()


def test_the_download_buttons_show_only_with_the_permission(
    november, client_a, tenant_a, in_tenant
):
    login(client_a, "export-sup@alpha.test")
    page = client_a.get("/reports/?month=2026-11").content.decode()
    assert 'href="/reports/export.xlsx?month=2026-11"' in page
    assert 'href="/reports/export.pdf?month=2026-11"' in page

    client_a.post("/accounts/logout/")
    # Someone who may read reports but not export them: the page without the buttons.
    with in_tenant(tenant_a):
        viewer = StaffFactory(email="export-viewer@alpha.test", role="supervisor")
        group = Group.objects.create(name="reports, no export")
        group.permissions.set(
            Group.objects.get(name=Role.SUPERVISOR).permissions.exclude(codename="export_reports")
        )
        viewer.groups.set([group])
    login(client_a, "export-viewer@alpha.test")
    page = client_a.get("/reports/?month=2026-11")
    assert page.status_code == 200
    assert "export.xlsx" not in page.content.decode()
    assert client_a.get(XLSX).status_code == 403


def test_a_month_that_does_not_parse_is_refused_and_not_logged(
    november, client_a, tenant_a, in_tenant
):
    login(client_a, "export-sup@alpha.test")
    response = download(client_a, "/reports/export.xlsx?month=November", "en")

    assert response.status_code == 400
    assert "YYYY-MM" in response.content.decode()
    with in_tenant(tenant_a):
        assert not AuditEntry.objects.filter(
            action=AuditEntry.Action.REPORT_EXPORTED, actor__email="export-sup@alpha.test"
        ).exists()


def test_a_month_without_data_shows_dashes_not_errors(november, client_a):
    login(client_a, "export-sup@alpha.test")
    book = load_workbook(
        io.BytesIO(download(client_a, "/reports/export.xlsx?month=2026-06").content)
    )
    summary = book.worksheets[0]
    assert [summary[f"D{row}"].value for row in range(3, 15)] == [
        "—",
        "—",
        "—",
        "—",
        "—",
        "—",
        "—",
        "—",
        None,
        "—",
        "—",
        "—",
    ]
    assert summary["B2"].value == 0 and summary["F4"].value is None  # nothing to miss
    assert rows(book.worksheets[1])[1:] == []

    pdf = download(client_a, "/reports/export.pdf?month=2026-06", "en")
    assert pdf.status_code == 200
    assert flat("No eligible encounters in this month.") in pdf_text(pdf)


def test_another_tenants_supervisor_downloads_only_their_own_figures(
    november, client_b, tenant_b, in_tenant
):
    with in_tenant(tenant_b):
        StaffFactory(email="export-sup@beta.test", role="supervisor")
    login(client_b, "export-sup@beta.test")
    book = load_workbook(io.BytesIO(download(client_b, XLSX, "en").content))
    text = pdf_text(download(client_b, PDF, "en"))

    summary = book["Summary"]
    assert (summary["B2"].value, summary["B4"].value, summary["B11"].value) == (0, 0, 0)
    assert summary["D4"].value == "—"
    assert rows(book["Departments"])[1:] == [] and rows(book["Complaints"])[1:] == []
    assert flat("No eligible encounters in this month.") in text
    assert flat("33.33 %") not in text and flat("Fees and billing") not in text


def test_the_pdf_embeds_the_chinese_font_it_uses(november, client_a):
    """With a TrueType Chinese font on the machine (./dev installs fonts-wqy-microhei), the
    PDF carries the glyphs it uses, so it reads the same on a machine without Chinese fonts."""
    from pathlib import Path

    from django.conf import settings

    login(client_a, "export-sup@alpha.test")
    chinese = download(client_a, PDF, "zh-hans")
    fonts = [
        page["/Resources"]["/Font"][name].get_object()
        for page in PdfReader(io.BytesIO(chinese.content)).pages
        for name in page["/Resources"]["/Font"]
    ]
    # reportlab embeds TrueType subsets as simple /TrueType fonts with their glyphs attached.
    embedded = [font for font in fonts if font.get("/Subtype") == "/TrueType"]
    if any(Path(path).exists() for path in settings.PDF_CJK_FONTS):
        assert embedded, [font.get("/BaseFont") for font in fonts]
    else:  # only the named CID font, which the reader supplies
        assert any("STSong" in str(font.get("/BaseFont")) for font in fonts)


def test_a_clinic_or_department_named_like_a_formula_stays_text_in_the_workbook(
    november, client_a, tenant_a, in_tenant
):
    from crm.models import Department

    tenant_a.name = '=HYPERLINK("http://evil.example","报告")'
    tenant_a.save()
    with in_tenant(tenant_a):
        Department.objects.filter(pk=november["ward"].pk).update(name="+cmd|' /C calc'!A0")
    login(client_a, "export-sup@alpha.test")

    book = load_workbook(io.BytesIO(download(client_a, XLSX, "en").content))

    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    values = {cell.value for cell in cells}
    assert '=HYPERLINK("http://evil.example","报告")' in values
    assert "+cmd|' /C calc'!A0" in values

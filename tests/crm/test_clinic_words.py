"""A service business's pages and report files speak its words (issue 19 §2, crm.vocabulary):
a car dealer's worklist, call page, contacts, targets, report page, PDF and workbook say
customer, customer number and kind of service, in zh-Hans and English, and leave out the
hospital's transferred / readmitted figures while they are 0. A hospital keeps its words, and
the dealer's words never reach another clinic."""

import io

import pytest
from django.db import connection
from django.utils import translation
from openpyxl import load_workbook

from crm.models import FollowUpTask
from crm.reporting.exports.layout import headline_lines
from crm.reporting.report import report_build
from crm.vocabulary import clinic_vocabulary, vocabulary_of
from tests.conftest import login
from tests.crm.test_kpi import NOVEMBER, world  # noqa: F401  (world: a fixture)
from tests.crm.test_report_exports import download, flat, pdf_text, rows
from tests.crm.test_worklist_pages import due_tasks  # noqa: F401  (a fixture)
from tests.factories import StaffFactory

# The report is November's (test_kpi's world) read from early December, when its month has
# ended and the worklist's tasks, due "now", fall outside it.
pytestmark = pytest.mark.now("2026-12-04 10:00")

S = FollowUpTask.Status
REPORT = "/reports/?month=2026-11"
XLSX = "/reports/export.xlsx?month=2026-11"
PDF = "/reports/export.pdf?month=2026-11"


@pytest.fixture
def dealer(tenant_a):
    """Alpha as a car dealer (demo-service's kind); the test's transaction puts it back."""
    connection.set_schema_to_public()
    tenant_a.kind = "service"
    tenant_a.save()
    return tenant_a


@pytest.fixture
def dealer_supervisor(dealer, world, in_tenant):  # noqa: F811
    with in_tenant(dealer):
        StaffFactory(email="words-sup@alpha.test", role="supervisor")
    return world


def page(client, url, language) -> str:
    response = download(client, url, language)
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, element_id: str) -> str:
    part = html[html.index(f'id="{element_id}"') :]
    return part[: part.index("</table>")]


def test_the_dealers_worklist_and_call_page_say_customer(dealer, due_tasks, agent_a, client_a):  # noqa: F811
    login(client_a, "agent@alpha.test")
    chinese = page(client_a, "/worklist/", "zh-hans")
    assert "<th>客户</th>" in chinese and 'data-label="客户"' in chinese
    assert 'placeholder="完整姓名、客户编号或电话后四位"' in chinese
    assert "住院号" not in chinese and "患者/客户" not in chinese  # the menu says 客户 too

    english = page(client_a, "/worklist/", "en")
    assert "<th>Customer</th>" in english
    assert 'placeholder="Full name, customer number or last 4 digits of a phone"' in english
    assert "Record number" not in english and ">Contacts<" not in english

    call = page(client_a, f"/tasks/{due_tasks[0].pk}/", "zh-hans")
    assert "<dt>客户编号</dt>" in call and "住院号" not in call


def test_a_hospital_keeps_its_words_on_the_worklist(due_tasks, agent_a, client_a):  # noqa: F811
    login(client_a, "agent@alpha.test")
    chinese = page(client_a, "/worklist/", "zh-hans")
    assert "<th>患者/客户</th>" in chinese
    assert 'placeholder="完整姓名、住院号/病历号或电话后四位"' in chinese
    assert "客户编号" not in chinese


def test_the_dealers_words_stay_in_the_dealer(dealer, admin_client_b):
    """Beta (a dental clinic) shows its own words while Alpha is a car dealer."""
    english = page(admin_client_b, "/contacts/", "en")
    assert "<h1>Contacts</h1>" in english and "<th>Record number</th>" in english
    assert "Customer number" not in english


def test_the_dealers_contacts_page_and_form(dealer, admin_a, client_a):
    login(client_a, "admin@alpha.test")
    chinese = page(client_a, "/contacts/", "zh-hans")
    assert "<h1>客户</h1>" in chinese and "<th>客户编号</th>" in chinese
    english = page(client_a, "/contacts/new/", "en")
    assert "Customer number" in english and "Record number" not in english


def test_the_dealers_targets_page_is_per_kind_of_service(dealer, admin_a, client_a):
    login(client_a, "admin@alpha.test")
    chinese = page(client_a, "/reports/targets/", "zh-hans")
    assert "<h2>按服务类型的回访率</h2>" in chinese and "<th>服务类型</th>" in chinese
    assert "患者类别" not in section(chinese, "kpi-kind-targets")
    english = page(client_a, "/reports/targets/", "en")
    assert "Follow-up rate per kind of service" in english


def test_the_dealers_report_page_has_no_hospital_lines(dealer_supervisor, client_a):
    login(client_a, "words-sup@alpha.test")
    chinese = page(client_a, REPORT, "zh-hans")
    followup = section(chinese, "kpi-followup")
    assert "已转院" not in followup and "再次入院" not in followup
    assert "<h3>按服务类型</h3>" in chinese and "<th>服务类型</th>" in section(chinese, "kpi-kinds")
    assert "患者类别" not in chinese

    english = page(client_a, REPORT, "en")
    followup = section(english, "kpi-followup")
    assert "Transferred elsewhere" not in followup and "Readmitted" not in followup
    assert "<h3>By kind of service</h3>" in english
    assert "<th>Kind of service</th>" in section(english, "kpi-kinds")


def test_a_dealer_who_recorded_a_transfer_still_sees_it(dealer_supervisor, dealer, in_tenant):
    """Hiding a figure that reads 0 loses nothing; hiding a recorded one would."""
    with in_tenant(dealer), translation.override("en"):
        pending = FollowUpTask.objects.filter(status=S.PENDING, attempts_count=0).first()
        FollowUpTask.objects.filter(pk=pending.pk).update(
            status=S.UNREACHABLE, last_outcome="transferred_elsewhere", attempts_count=1
        )
        lines = {str(line.label): line.count for line in headline_lines(report_build(NOVEMBER))}
    assert lines["Transferred elsewhere"] == 1
    assert "Readmitted" not in lines


def test_a_hospitals_report_keeps_its_lines(world, tenant_a, in_tenant):  # noqa: F811
    with in_tenant(tenant_a), translation.override("en"):
        assert not clinic_vocabulary().hides_zero_hospital_figures
        lines = {str(line.label): line.count for line in headline_lines(report_build(NOVEMBER))}
    assert (lines["Transferred elsewhere"], lines["Readmitted"]) == (0, 0)


def test_the_dealers_pdf_speaks_of_services(dealer_supervisor, client_a):
    login(client_a, "words-sup@alpha.test")
    chinese = pdf_text(download(client_a, PDF, "zh-hans"))
    assert flat("按服务类型") in chinese and flat("服务类型") in chinese
    assert "患者类别" not in chinese and "已转院" not in chinese and "再次入院" not in chinese
    english = pdf_text(download(client_a, PDF, "en"))
    assert flat("By kind of service") in english and flat("Kind of service") in english
    assert flat("Kind of patient") not in english and flat("Readmitted") not in english


def test_the_dealers_workbook_speaks_of_services(dealer_supervisor, client_a):
    login(client_a, "words-sup@alpha.test")
    english = load_workbook(io.BytesIO(download(client_a, XLSX, "en").content))
    assert english.sheetnames[-1] == "By kind of service"
    assert rows(english["By kind of service"])[0][0] == "Kind of service"
    labels = [row[0] for row in rows(english["Summary"])]
    assert "Spot-check agreement" in labels
    assert "Transferred elsewhere" not in labels and "Readmitted" not in labels

    chinese = load_workbook(io.BytesIO(download(client_a, XLSX, "zh-hans").content))
    assert chinese.sheetnames[-1] == "按服务类型"
    assert rows(chinese["按服务类型"])[0][0] == "服务类型"
    labels = [row[0] for row in rows(chinese.worksheets[0])]
    assert "已转院" not in labels and "再次入院" not in labels


@pytest.mark.parametrize(
    "kind, language, words",
    [
        ("service", "zh-hans", ("客户", "客户编号", "服务类型")),
        ("service", "en", ("Customer", "Customer number", "Kind of service")),
        ("hospital", "zh-hans", ("患者/客户", "住院号/病历号", "患者类别")),
        ("dental", "en", ("Contact", "Record number", "Kind of patient")),
    ],
)
def test_each_kind_of_clinic_has_its_words(kind, language, words):
    vocabulary = vocabulary_of(kind)
    with translation.override(language):
        assert (str(vocabulary.contact), str(vocabulary.record_no), str(vocabulary.kind)) == words

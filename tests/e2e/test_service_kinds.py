"""Issue 19's "done when" walk in a service business (an HR department, Tenant.Kind.SERVICE):
a new administrator defines a "new hire" kind (新员工), writes a rule for it and imports a
list of new hires with that kind, two of them without a phone number; the agent works the
two calls on the worklist; the report shows the kind's figures with the reason the others
were not followed up ("no contact information"), in Chinese and in English.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Encounter, FollowUpTask
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-service"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 人力资源服务中心", slug=SLUG, kind="service", admin_email="owner@hr.test"
        ).tenant
        tenant.calling_hours = [["00:00", "24:00"]]  # "call now" whatever hour the test runs
        tenant.save()
        with tenant_context(tenant):
            StaffFactory(email="admin@hr.test", role="admin", first_name="敏", last_name="张")
            StaffFactory(email="agent@hr.test", role="agent", first_name="小", last_name="周")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def hires_day():
    return timezone.localdate() - timedelta(days=1)


def hires_list() -> bytes:
    day = hires_day().isoformat()
    rows = [
        ["姓名", "编号", "日期", "电话", "类型"],
        ["陈晨", "HR001", day, "13800138011", "新员工"],
        ["周舟", "HR002", day, "13800138012", "新员工"],
        ["吴越", "HR003", day, "", "新员工"],
        ["郑正", "HR004", day, "", "新员工"],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_a_new_hire_kind_from_definition_to_the_report(browser, clinic, tenant_url, screenshot):
    admin = browser.new_context().new_page()
    sign_in(admin, tenant_url(SLUG, "/accounts/login/"), "admin@hr.test")

    # The kind.
    admin.goto(tenant_url(SLUG, "/rules/kinds/"))
    admin.fill("#kind-add #id_name", "新员工")
    admin.click("#kind-add button[type=submit]")
    admin.wait_for_load_state("load")
    assert "新员工" in admin.locator("tr[data-code=k-9]").inner_text()

    # The rule: new hires are called from the day after they start, within a week.
    admin.goto(tenant_url(SLUG, "/rules/new/"))
    admin.fill("#id_name", "新员工入职回访")
    admin.check("input[name=match_kinds][value=k-9]")
    admin.fill("#id_steps-0-name", "入职回访")
    admin.fill("#id_steps-0-offset_days", "0")
    admin.fill("#id_steps-0-due_days", "7")
    admin.click("button:has-text('保存规则')")
    admin.wait_for_load_state("load")
    admin.goto(tenant_url(SLUG, "/rules/"))
    row = admin.locator("tr", has=admin.get_by_role("link", name="新员工入职回访"))
    assert "新员工" in row.inner_text()

    # The list, with its kind column in the clinic's own words.
    admin.click("nav >> text=导入")
    admin.set_input_files(
        "input[type=file]",
        files=[{"name": "新员工名单.csv", "mimeType": "text/csv", "buffer": hires_list()}],
    )
    admin.click("form button[type=submit]:has-text('上传')")
    assert admin.locator("select[name=col-4]").input_value() == "kind"
    admin.click("button:has-text('检查')")
    assert admin.locator("#row-errors tbody tr").count() == 0
    screenshot(admin, "service-import-preview-zh")
    admin.click("button:has-text('导入 4')")
    admin.wait_for_selector("#import-result")
    with tenant_context(clinic):
        assert list(Encounter.objects.values_list("kind", flat=True)) == ["k-9"] * 4
        assert sorted(FollowUpTask.objects.values_list("status", "reason")) == [
            ("pending", ""),
            ("pending", ""),
            ("unreachable", "no_contact"),
            ("unreachable", "no_contact"),
        ]

    # The agent calls the two who have a number: one reached, one not answering.
    agent = browser.new_context().new_page()
    sign_in(agent, tenant_url(SLUG, "/accounts/login/"), "agent@hr.test")
    agent.click("nav >> text=回访工作台")
    agent.wait_for_load_state("load")
    assert agent.locator("table.worklist tbody tr").count() == 2
    screenshot(agent, "service-worklist-zh")
    agent.locator("table.worklist button").first.click()
    agent.click("button:has-text('拨打')")
    agent.wait_for_load_state("domcontentloaded")
    agent.keyboard.press("1")
    agent.fill("textarea[name=notes]", "适应良好")
    agent.click("button:has-text('保存并打开下一条')")
    # The next call opened, already held by this agent: no answer (key 2).
    agent.wait_for_selector("#attempt-form")
    agent.wait_for_load_state("domcontentloaded")
    agent.keyboard.press("2")
    with agent.expect_navigation():
        agent.click("button:has-text('保存并打开下一条')")
    agent.context.close()
    with tenant_context(clinic):
        statuses = sorted(FollowUpTask.objects.values_list("status", "attempts_count"))
    # Not answering leaves the call open for a retry.
    assert statuses[0] == ("completed", 1) and statuses[2:] == [("unreachable", 0)] * 2
    assert statuses[1][0] in FollowUpTask.OPEN and statuses[1][1] == 1

    # The report: four new hires eligible, one followed up, two for want of a number.
    month = hires_day().strftime("%Y-%m")
    admin.goto(tenant_url(SLUG, f"/reports/?month={month}"))
    kinds = admin.locator("#kpi-kinds tbody tr", has_text="新员工")
    assert kinds.locator("td").nth(1).inner_text() == "4"
    assert kinds.locator("td").nth(2).inner_text() == "1"
    assert kinds.locator("td").nth(3).inner_text().startswith("25.00 %")
    unreachable = admin.locator("#kpi-unreachable tr", has_text="电话不详")
    assert unreachable.locator("td").nth(1).inner_text() == "2"
    screenshot(admin, "service-report-zh")

    admin.click("button[name=language][value=en]")
    admin.wait_for_load_state("load")
    admin.goto(tenant_url(SLUG, f"/reports/?month={month}"))
    unreachable = admin.locator("#kpi-unreachable tr", has_text="No contact information")
    assert unreachable.locator("td").nth(1).inner_text() == "2"
    assert admin.locator("#kpi-kinds tbody tr", has_text="新员工").count() == 1
    screenshot(admin, "service-report-en")
    admin.goto(tenant_url(SLUG, "/rules/kinds/"))
    assert admin.locator("h1").inner_text() == "Encounter kinds"
    assert admin.locator("tr[data-code=k-9] td").nth(2).inner_text() == "4"
    admin.context.close()

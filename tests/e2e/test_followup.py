"""The follow-up engine in a browser: an administrator imports a discharge list, an agent
works the worklist with the keyboard, and tasks complete or wait for a retry.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Contact, FollowUpTask
from crm.services.feedback import complaint_open
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import PASSWORD, StaffFactory, authenticator_add

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-followup"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 随访医院", slug=SLUG, kind="hospital", admin_email="admin@e2e.test"
        ).tenant
        tenant.calling_hours = [["00:00", "24:00"]]  # "call now" whatever hour the test runs
        tenant.save()
        with tenant_context(tenant):
            admin = tenant_admin()
            admin.set_password(PASSWORD)
            admin.save()
            authenticator_add(admin)  # an administrator signs in with a second step
            StaffFactory(email="agent@e2e.test", role="agent", first_name="小", last_name="王")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def tenant_admin():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(email="admin@e2e.test")


def discharge_list() -> bytes:
    day = (timezone.localdate() - timedelta(days=4)).isoformat()
    # No outcome recorded: under the hospital preset these are the follow-up centre's calls
    # (a cured patient is the responsible nurse's, an improved one the attending doctor's).
    rows = [
        ["姓名", "住院号", "科室", "出院时间", "电话", "转归"],
        ["张伟", "E2E001", "骨科", day, "13800138001", ""],
        ["王芳", "E2E002", "产科", day, "13800138002", ""],
        ["李娜", "E2E003", "心血管内科", day, "13800138003", ""],
        ["刘洋", "E2E004", "骨科", day, "12345", ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_import_then_work_the_worklist(browser, clinic, tenant_url, screenshot):
    admin = browser.new_context().new_page()
    sign_in(admin, tenant_url(SLUG, "/accounts/login/"), "admin@e2e.test")
    admin.click("nav >> text=导入")
    admin.set_input_files(
        "input[type=file]",
        files=[{"name": "出院名单.csv", "mimeType": "text/csv", "buffer": discharge_list()}],
    )
    admin.click("form button[type=submit]:has-text('上传')")
    # The columns are mapped from the Chinese headings; check the rows.
    assert admin.locator("select[name=col-0]").input_value() == "name"
    admin.click("button:has-text('检查')")
    error_rows = admin.locator("#row-errors tbody tr")
    assert error_rows.count() == 1
    assert error_rows.first.locator("td").first.inner_text() == "5"
    screenshot(admin, "import-preview-zh")
    admin.click("button:has-text('导入 3')")
    admin.wait_for_selector("#import-result")
    assert "3" in admin.locator("#import-result li").first.inner_text()
    admin.context.close()

    def complaint_still_open():
        with tenant_context(Tenant.objects.get(schema_name=SLUG)):
            contact = Contact.objects.get(record_no="E2E003")
            complaint_open(summary="出院手续太慢", source="call", contact=contact)

    committed(complaint_still_open)

    agent = browser.new_context().new_page()
    sign_in(agent, tenant_url(SLUG, "/accounts/login/"), "agent@e2e.test")
    agent.click("nav >> text=回访工作台")
    rows = agent.locator("table.worklist tbody tr")
    assert rows.count() == 3
    # "Unhappy last time", before anyone dials: only on 李娜's row, with the reason.
    unhappy = agent.locator("table.worklist tbody tr:has(.unhappy)")
    assert unhappy.count() == 1
    assert "李娜" in unhappy.inner_text() and "上次不满意" in unhappy.inner_text()
    assert "投诉尚未处理完毕" in unhappy.inner_text()
    screenshot(agent, "worklist-zh")

    # First task: the number is masked until "call" is pressed, then no answer (key 2).
    agent.locator("table.worklist button").first.click()
    assert "••• 8001" in agent.content() or "•••" in agent.content()
    agent.click("button:has-text('拨打')")
    assert agent.locator("a.phone-revealed").count() == 1
    # The keys are read by a deferred script: a page whose script is not cached yet (a fresh
    # browser, or a file dated later than the server's clock) runs it only at DOMContentLoaded.
    agent.wait_for_load_state("domcontentloaded")
    agent.keyboard.press("2")
    agent.click("button:has-text('保存并打开下一条')")
    # The next task opened, already held by this agent: reached (key 1).
    agent.wait_for_selector("#attempt-form")
    agent.wait_for_load_state("domcontentloaded")
    agent.keyboard.press("1")
    agent.fill("textarea[name=notes]", "恢复良好，已宣教")
    agent.click("button:has-text('保存并打开下一条')")
    agent.wait_for_selector("#attempt-form")
    # The third follow-up is 李娜's: the call page says it above the number.
    assert "上次不满意" in agent.locator(".notice.unhappy").inner_text()
    screenshot(agent, "task-zh")

    # In English, too.
    agent.click("button[name=language][value=en]")
    assert agent.locator("h2", has_text="Log the attempt").count() == 1
    agent.goto(tenant_url(SLUG, "/worklist/"))
    assert agent.locator("h1").first.inner_text() == "Worklist"
    assert agent.locator("table.worklist .unhappy").inner_text() == "Unhappy last time"
    agent.context.close()

    def statuses():
        with tenant_context(Tenant.objects.get(schema_name=SLUG)):
            return sorted(
                (t.contact.name, t.status, t.last_outcome, t.attempts_count)
                for t in FollowUpTask.objects.select_related("contact")
            )

    result = committed(statuses)
    assert ("王芳", "completed", "reached", 1) in result or ("张伟", "completed", "reached", 1) in (
        result
    )
    assert [r for r in result if r[2] == "no_answer"][0][1] == "pending"
    assert len(result) == 3

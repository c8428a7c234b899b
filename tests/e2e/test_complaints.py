"""The complaint page in a browser (issue 19, "done when"): a complaint received on the Friday
before 2025's National Day shows its two milestones in working days, the holiday skipped and
the make-up days counted, in Chinese and in English; the supervisor stops the clock while
waiting on the customer and starts it again. In a clinic of its own, dropped afterwards."""

import pytest
from django_tenants.utils import tenant_context

from crm.models import Complaint
from crm.services import feedback
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.clock import at
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-complaints"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 投诉医院", slug=SLUG, kind="hospital", admin_email="admin@e2e-c.test"
        ).tenant
        # Six working days: the reply falls on the make-up Saturday, Oct 11.
        tenant.complaint_ack_days, tenant.complaint_reply_days = 1, 6
        tenant.save()
        with tenant_context(tenant):
            StaffFactory(email="sup@e2e-c.test", role="supervisor", first_name="周")
            feedback.complaint_open(
                summary="出院结算排队两个小时",
                source="phone_in",
                category="process",
                now=at("2025-09-26 10:00"),
            )
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _complaint_id() -> int:
    def read():
        with tenant_context(Tenant.objects.get(schema_name=SLUG)):
            return Complaint.objects.get().pk

    return committed(read)


def test_the_complaint_page_shows_both_milestones_and_the_paused_clock(
    page, clinic, tenant_url, screenshot
):
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "sup@e2e-c.test")
    page.goto(tenant_url(SLUG, f"/complaints/{_complaint_id()}/"))

    acknowledge, reply = page.locator("#milestone-acknowledge"), page.locator("#milestone-reply")
    assert page.locator("dt", has_text="确认受理期限").count() == 1
    assert acknowledge.inner_text().startswith("2025-09-28 10:00")  # the make-up Sunday
    assert reply.inner_text().startswith("2025-10-11 10:00")  # the make-up Saturday
    assert "调休上班日照常计算" in reply.inner_text()
    screenshot(page, "complaint-milestones-zh")

    page.fill("input[name=note]", "请患者提供结算单号")
    page.click("button[name=to_status][value=waiting]")
    page.wait_for_load_state("load")
    assert "等待客户回复" in page.locator("h1").inner_text()
    assert "暂停计时" in page.locator("#milestone-reply").inner_text()
    page.click("button[name=to_status][value=investigating]")  # 客户已回复
    page.wait_for_load_state("load")
    history = page.locator("ul.history").inner_text()
    assert "等待客户回复：暂停计时" in history and "客户已回复：计时恢复" in history
    assert "已于" in page.locator("#milestone-acknowledge").inner_text()

    page.click("button[name=language][value=en]")
    page.wait_for_load_state("load")
    assert page.locator("dt", has_text="Acknowledge by").count() == 1
    assert page.locator("dt", has_text="Reply by").count() == 1
    assert "make-up working days count" in page.locator("#milestone-reply").inner_text()
    screenshot(page, "complaint-milestones-en")

"""The department's monthly loop in a browser, in Chinese (issue 19 §4): the ward's head nurse
signs off last month's register from the menu; its supervisor finds the ward below target on
the month's report, records the corrective action (整改) and sees it listed, then reads the
page in English.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Department, FollowUpRule, FollowUpTask
from crm.reporting.targets import kpi_targets_save
from crm.services.staff import staff_set_departments
from saas import clock
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import menu_go, sign_in
from tests.factories import ContactFactory, EncounterFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-review"


def last_month() -> str:
    return f"{(clock.today().replace(day=1) - timedelta(days=1)):%Y-%m}"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """Last month the ward had two discharges, neither followed up (0.00 % against the
    clinic's 80 %); its head nurse and its supervisor work in the ward."""

    def create():
        tenant = tenant_provision(
            name="E2E 科室审核医院", slug=SLUG, kind="hospital", admin_email="admin@review.test"
        ).tenant
        with tenant_context(tenant):
            ward = Department.objects.get(code="orthopaedics")
            nurse = StaffFactory(
                email="nurse@review.test", role="clinician", first_name="丽", last_name="王"
            )
            head = StaffFactory(
                email="sup@review.test", role="supervisor", first_name="强", last_name="李"
            )
            for user in (nurse, head):
                staff_set_departments(user=user, departments=[ward])
            kpi_targets_save(values={("follow_up_rate", None, ""): Decimal(80)})
            FollowUpRule.objects.update(active=False)
            rule = FollowUpRule.objects.create(name="出院回访", match_kinds=["discharge"])
            first = clock.today().replace(day=1) - timedelta(days=1)
            day = timezone.make_aware(datetime(first.year, first.month, 10, 10))
            for _ in range(2):
                encounter = EncounterFactory(
                    occurred_at=day, department=ward, contact=ContactFactory()
                )
                FollowUpTask.objects.create(
                    encounter=encounter,
                    contact=encounter.contact,
                    rule=rule,
                    sequence=0,
                    name="第3天",
                    channel="phone",
                    tier=2,
                    status=FollowUpTask.Status.PENDING,
                    opens_at=day,
                    due_at=day + timedelta(days=3),
                    closes_at=day + timedelta(days=10),
                )
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def test_the_head_nurse_signs_off_last_months_register(clinic, page, tenant_url, screenshot):
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "nurse@review.test")
    menu_go(page, "登记本签字")

    assert page.locator("h1").inner_text() == f"登记本签字 · {last_month()}"
    card = page.locator("section.card", has_text="骨科")
    assert "应随访：2 · 已随访：0" in card.inner_text()
    card.locator("select[name=role]").select_option("head_nurse")
    card.locator("textarea[name=note]").fill("已逐份核对回访登记")
    card.get_by_role("button", name="签字确认").click()
    page.wait_for_load_state("load")

    assert "您已签字确认骨科" in page.locator(".messages").inner_text()
    card = page.locator("section.card", has_text="骨科")
    assert "护士长: 王 丽" in card.inner_text() or "护士长: 丽 王" in card.inner_text()
    # Signed once as head nurse: only the head's role is left to sign.
    assert card.locator("select[name=role] option").all_inner_texts() == ["科主任"]
    screenshot(page, "register-sign-off-zh")


def test_the_supervisor_records_a_corrective_action_from_the_report(
    clinic, page, tenant_url, screenshot
):
    month = last_month()
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "sup@review.test")
    page.goto(tenant_url(SLUG, f"/reports/?month={month}"))

    review = page.locator("#review")
    assert review.locator("h2").inner_text() == f"月度审核 · {month}"
    row = page.locator("#review-sign-offs tbody tr", has_text="骨科")
    assert "回访率 0.00 % < 80 %" in row.inner_text()
    row.get_by_role("link", name="登记整改").click()
    page.wait_for_load_state("load")

    page.get_by_label("原因分析").fill("夜班人手不足，未按时回访")
    page.get_by_label("整改措施").fill("每日下午集中回访，护士长每周抽查")
    page.get_by_label("责任人").fill("王丽")
    page.get_by_label("整改期限").fill("2030-01-31")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state("load")

    assert page.url.endswith(f"/reports/?month={month}")
    assert "已登记骨科的整改措施" in page.locator(".messages").inner_text()
    actions = page.locator("#review-actions")
    assert "夜班人手不足" in actions.inner_text()
    assert "王丽 · 2030-01-31" in actions.inner_text()
    screenshot(page, "report-corrective-action-zh")

    page.click("button[name=language][value=en]")
    page.wait_for_load_state("load")
    assert "Corrective actions of this month" in page.locator("#review").inner_text()
    assert "Follow-up rate 0.00 % < 80 %" in page.locator("#review-actions").inner_text()

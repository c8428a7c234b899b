"""The KPI dashboard in a browser (issue 5, "done when"): a supervisor opens it, the charts
are drawn from the Chart.js served by the app itself, and a click on the least-reached
department's number opens the list behind it, in Chinese and in English.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Department, FollowUpRule, FollowUpTask
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import menu_go, sign_in
from tests.factories import ContactFactory, EncounterFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-dashboard"
S = FollowUpTask.Status


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """This month: orthopaedics follows up 1 of 3 encounters, obstetrics 2 of 2."""

    def create():
        tenant = tenant_provision(
            name="E2E 看板医院", slug=SLUG, kind="hospital", admin_email="admin@e2e-dash.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="supervisor@e2e-dash.test", role="supervisor")
            rule = FollowUpRule.objects.create(name="看板", match_kinds=["discharge"])
            now = timezone.now()
            for code, statuses in (
                ("orthopaedics", (S.COMPLETED, S.PENDING, S.UNREACHABLE)),
                ("obstetrics", (S.COMPLETED, S.COMPLETED)),
            ):
                department = Department.objects.get(code=code)
                for status in statuses:
                    encounter = EncounterFactory(
                        occurred_at=now, department=department, contact=ContactFactory()
                    )
                    FollowUpTask.objects.create(
                        encounter=encounter,
                        contact=encounter.contact,
                        rule=rule,
                        name="出院回访",
                        channel="phone",
                        status=status,
                        opens_at=now,
                        due_at=now + timedelta(days=3),
                        closes_at=now + timedelta(days=10),
                    )
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _charts_drawn(page) -> bool:
    return page.evaluate(
        """() => ["chart-follow-up", "chart-satisfaction", "chart-complaints",
                  "chart-departments"].every((id) => {
            const chart = window.Chart && Chart.getChart(id);
            const canvas = document.getElementById(id);
            return chart !== undefined && canvas.width > 0 && canvas.height > 0;
        })"""
    )


def test_a_supervisor_drills_into_the_least_reached_department(
    page, clinic, tenant_url, screenshot
):
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "supervisor@e2e-dash.test")
    menu_go(page, "看板")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-departments')")
    assert page.locator("h1").first.inner_text().startswith("KPI 看板")
    assert _charts_drawn(page)
    assert "33.33 %" in page.locator("#least-reached").inner_text()
    assert "骨科" in page.locator("#least-reached").inner_text()
    assert page.locator("#tile-follow-up.missed").count() == 1  # 60 % against 80 %
    screenshot(page, "dashboard-zh")

    page.click("#least-reached-link")
    assert "未随访" in page.locator("h1").first.inner_text()
    assert "骨科" in page.locator("h1").first.inner_text()
    assert page.locator("#drill-list tbody tr").count() == 2
    screenshot(page, "dashboard-list-zh")

    page.click("button[name=language][value=en]")
    assert page.locator("h1").first.inner_text().startswith("Not followed up")
    assert page.locator("#drill-list tbody tr").count() == 2
    page.click("text=← Dashboard")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-departments')")
    assert page.locator("h1").first.inner_text().startswith("KPI dashboard")
    assert _charts_drawn(page)
    screenshot(page, "dashboard-en")
    page.click("#dash-departments tbody tr:first-child a.drill-not-followed-up")
    assert page.locator("#drill-list tbody tr").count() == 2
    assert "Orthopaedics" in page.locator("h1").first.inner_text() or "骨科" in (
        page.locator("h1").first.inner_text()
    )

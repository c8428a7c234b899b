"""Tier-3 spot checks in a browser: a supervisor opens the worklist's spot-check tab, reads
each agent's discrepancy score in Chinese and in English, and follows a figure to the audits
behind it.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import FollowUpRule, FollowUpTask, OutcomeCode
from crm.services.followup import AttemptInput, attempt_log
from crm.services.planning import encounters_plan
from crm.services.spot_checks import spot_check_create
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-spotchecks"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 抽查医院", slug=SLUG, kind="hospital", admin_email="admin@spot.test"
        ).tenant
        tenant.spot_check_percent = 0  # only the audits made here
        tenant.save()
        with tenant_context(tenant):
            supervisor = StaffFactory(
                email="sup@spot.test", role="supervisor", first_name="周", last_name="主任"
            )
            agent = StaffFactory(
                email="agent@spot.test", role="agent", first_name="芳", last_name="王"
            )
            FollowUpRule.objects.update(active=False)
            RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
            now = timezone.now()
            encounters = [
                EncounterFactory(contact=ContactFactory(), occurred_at=now - timedelta(hours=2))
                for _ in range(3)
            ]
            encounters_plan([e.pk for e in encounters], now=now)
            reached = OutcomeCode.objects.filter(category="reached").first()
            for n, task in enumerate(FollowUpTask.objects.filter(encounter__in=encounters)):
                attempt_log(task, agent, AttemptInput(outcome=reached, notes="恢复良好"), now=now)
                spot = spot_check_create(task, now=now)
                agrees = n != 0
                finding = "与原记录一致" if agrees else "患者称未接到回访"
                attempt_log(
                    spot,
                    supervisor,
                    AttemptInput(outcome=reached, audit_agrees=agrees, notes=finding),
                    now=now,
                )
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def test_a_supervisor_reads_the_discrepancy_score_and_its_list(
    page, clinic, tenant_url, screenshot
):
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "sup@spot.test")
    page.goto(tenant_url(SLUG, "/worklist/?scope=spot_checks"))
    scores = page.locator("#spot-check-scores")
    assert page.locator("#spot-check-scores-title").inner_text() == "各回访专员差异率"
    row = scores.locator("tbody tr").first
    assert "王" in row.locator("td").nth(0).inner_text()
    assert row.locator("td").nth(3).inner_text() == "33.33 %"
    screenshot(page, "spot-check-scores-zh")

    page.click("button[name=language][value=en]")
    assert page.locator("#spot-check-scores-title").inner_text() == "Discrepancy score per agent"
    screenshot(page, "spot-check-scores-en")

    scores.locator("tbody tr").first.locator("td").nth(2).get_by_role("link").click()
    page.wait_for_load_state("load")
    audits = page.locator("#spot-check-audits tbody tr")
    assert audits.count() == 1
    assert "患者称未接到回访" in audits.first.inner_text()
    assert "Discrepancy" in audits.first.inner_text()

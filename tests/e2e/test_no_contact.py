"""Honest denominators in a browser (issue 19 §1), in Chinese and in English: in a hospital
an encounter whose patient has no phone number is not followed up, with its reason "no
contact information", in the month report's breakdown, in the list behind that figure, on the
follow-up's page and in the patient's history; the report's footnote says how the figure
changed.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Department, FollowUpRule
from crm.services.planning import encounters_plan
from saas import clock
from tenants.services import tenant_provision
from tests.conftest import committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-demo-hospital"
SEEDED: dict = {}

# What each language shows: the reason, the footnote's last sentence, the patient's status.
TEXT = {
    "zh-hans": {
        "reason": "电话不详",
        "note": "此前的报表将其排除在外，因此同一月份的应随访数更少、回访率更高。",
        "status": "失访",
    },
    "en": {
        "reason": "No contact information",
        "note": (
            "Earlier reports excluded it, so for the same month they showed fewer eligible "
            "encounters and a higher follow-up rate."
        ),
        "status": "Unreachable",
    },
}


def last_month() -> str:
    return f"{(clock.today().replace(day=1) - timedelta(days=1)):%Y-%m}"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """Last month the orthopaedic ward discharged 赵无号, whose record has no phone number,
    and a phone rule planned a call for the discharge."""

    def create():
        tenant = tenant_provision(
            name="E2E 示范医院", slug=SLUG, kind="hospital", admin_email="admin@nocontact.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="sup@nocontact.test", role="supervisor")
            FollowUpRule.objects.update(active=False)
            RuleFactory(name="出院电话回访")
            first = clock.today().replace(day=1) - timedelta(days=1)
            encounter = EncounterFactory(
                occurred_at=timezone.make_aware(datetime(first.year, first.month, 10, 10)),
                department=Department.objects.get(code="orthopaedics"),
                contact=ContactFactory(name="赵无号", phone=""),
            )
            encounters_plan([encounter.pk])
            SEEDED["contact"] = encounter.contact_id
        return tenant

    yield from committed_tenant(django_db_blocker, create)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_encounter_without_a_phone_is_not_followed_up_with_its_reason(
    clinic, page, tenant_url, screenshot, language
):
    text = TEXT[language]
    month = last_month()
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "sup@nocontact.test")
    if language == "en":
        page.click("button[name=language][value=en]")
        page.wait_for_load_state("load")
    page.goto(tenant_url(SLUG, f"/reports/?month={month}"))

    row = page.locator("#kpi-unreachable tr", has_text=text["reason"])
    assert row.locator("td").all_inner_texts() == [text["reason"], "1"]
    assert text["note"] in page.locator("#denominator-note").inner_text()
    screenshot(page, f"report-no-contact-{language}")

    row.get_by_role("link", name="1").click()
    page.wait_for_load_state("load")
    assert "category=no_contact" in page.url
    [listed] = page.locator("#drill-list tbody tr").all()
    assert "赵无号" in listed.inner_text()
    assert text["reason"] in listed.locator("td").last.inner_text()

    listed.get_by_role("link", name="出院电话回访 · Day 3").click()
    page.wait_for_load_state("load")
    assert page.locator("#task-reason").inner_text() == text["reason"]

    page.goto(tenant_url(SLUG, f"/contacts/{SEEDED['contact']}/"))
    follow_up = page.locator("section.encounter tbody tr", has_text="Day 3")
    assert f"{text['status']} {text['reason']}" in follow_up.inner_text()

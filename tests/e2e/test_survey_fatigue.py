"""Survey fatigue and reminders in a browser (issue 19 §3.5), in Chinese and in English: an
administrator sets the days between two surveys of a contact and the reminder's delay on the
clinic's settings page, saved, and refused with its message when out of range; a contact's
history says why a follow-up went without its survey (one was sent lately) or without its
message (a return visit is booked), and since when.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import FollowUpRule, FollowUpTask
from crm.services.followup_messages import task_message_queue
from crm.services.planning import encounters_plan
from saas import clock
from surveys.links import invitation_create
from surveys.models import SurveyInvitation
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory
from tests.surveys.conftest import STANDARD, survey_with

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-survey-fatigue"
SEEDED: dict = {}

TEXT = {
    "zh-hans": {
        "cap": "同一联系人问卷间隔（天），至少",
        "reminder": "未作答者提醒（天后）",
        "save": "保存",
        "saved": "设置已保存。",
        "refused": "请至少填写 1 天：在此期间内每位联系人最多收到一份问卷。",
        "surveyed": "未发送问卷：该联系人已于 {day} 收到或填写过问卷。",
        "booked": "未发送消息：已预约 {day} 复诊。",
    },
    "en": {
        "cap": "One survey per contact every (days), at most",
        "reminder": "Remind those who have not answered after (days)",
        "save": "Save",
        "saved": "Settings saved.",
        "refused": "Write a number of days, or 0 for no reminder; it cannot be negative.",
        "surveyed": "Survey not sent: the contact was sent or answered one on {day}.",
        "booked": "No message sent: a return visit is booked on {day}.",
    },
}
# What each language's test saves, then the value it tries and is refused.
VALUES = {"zh-hans": ("60", "5", "cap", "0"), "en": ("45", "7", "reminder", "-2")}


def _day(moment) -> str:
    return f"{timezone.localtime(moment, timezone.get_fixed_timezone(480)):%Y-%m-%d}"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """Two survey-link follow-ups whose window opened today: 李雷 was sent a survey 30 days
    ago (within the default 90), so his message goes without one; 韩梅梅 has a return visit
    booked in two days, so hers does not go at all."""

    def create():
        tenant = tenant_provision(
            name="E2E 问卷频次医院", slug=SLUG, kind="hospital", admin_email="admin@fatigue.test"
        ).tenant
        with tenant_context(tenant):
            StaffFactory(email="boss@fatigue.test", role="admin")
            now = clock.now()
            survey = survey_with(STANDARD[:1])
            FollowUpRule.objects.update(active=False)
            RuleFactory(
                name="问卷回访",
                steps=[
                    {"offset_days": 0, "due_days": 10, "channel": "survey_link", "survey": survey}
                ],
            )
            surveyed = ContactFactory(name="李雷", phone="+8613800138601")
            invitation_create(survey, surveyed)
            SurveyInvitation.objects.filter(contact=surveyed).update(
                created_at=now - timedelta(days=30)
            )
            booked = ContactFactory(name="韩梅梅", phone="+8613800138602")
            visit = EncounterFactory(
                contact=booked, kind="appointment", occurred_at=now + timedelta(days=2)
            )
            for contact in (surveyed, booked):
                encounter = EncounterFactory(contact=contact, occurred_at=now - timedelta(days=1))
                encounters_plan([encounter.pk])
                task = FollowUpTask.objects.get(encounter=encounter)
                task_message_queue(task.pk, now=clock.now())
            SEEDED.update(
                surveyed=surveyed.pk,
                surveyed_on=_day(now - timedelta(days=30)),
                booked=booked.pk,
                booked_on=_day(visit.occurred_at),
            )
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _settings() -> tuple[int, int]:
    def read():
        tenant = Tenant.objects.get(schema_name=SLUG)
        return tenant.survey_interval_days, tenant.survey_reminder_days

    return committed(read)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_administrator_sets_the_survey_cap_and_sees_what_it_held_back(
    clinic, page, tenant_url, screenshot, language
):
    text = TEXT[language]
    cap, reminder, refused_field, refused_value = VALUES[language]
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "boss@fatigue.test")
    if language == "en":
        page.click("button[name=language][value=en]")
        page.wait_for_load_state("load")

    page.goto(tenant_url(SLUG, "/settings/"))
    page.get_by_label(text["cap"]).fill(cap)
    page.get_by_label(text["reminder"]).fill(reminder)
    page.get_by_role("button", name=text["save"], exact=True).click()
    page.wait_for_load_state("load")
    assert text["saved"] in page.locator(".messages").inner_text()
    assert _settings() == (int(cap), int(reminder))
    page.goto(tenant_url(SLUG, "/settings/"))
    assert page.get_by_label(text["cap"]).input_value() == cap
    assert page.get_by_label(text["reminder"]).input_value() == reminder

    field = page.get_by_label(text[refused_field])
    field.fill(refused_value)
    # The browser holds the form back itself (the field's min); the page's own message is
    # what a browser without that check, or a hand-made request, gets.
    assert field.evaluate("input => !input.checkValidity()")
    page.locator("main form").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name=text["save"], exact=True).click()
    page.wait_for_load_state("load")
    assert text["refused"] in page.locator("main").inner_text()
    assert _settings() == (int(cap), int(reminder))  # nothing saved
    screenshot(page, f"settings-survey-cap-{language}")

    page.goto(tenant_url(SLUG, f"/contacts/{SEEDED['surveyed']}/"))
    held = page.locator("section.encounter .held-back")
    assert held.all_inner_texts() == [text["surveyed"].format(day=SEEDED["surveyed_on"])]
    page.goto(tenant_url(SLUG, f"/contacts/{SEEDED['booked']}/"))
    held = page.locator("section.encounter .held-back")
    assert held.all_inner_texts() == [text["booked"].format(day=SEEDED["booked_on"])]
    screenshot(page, f"contact-return-visit-booked-{language}")

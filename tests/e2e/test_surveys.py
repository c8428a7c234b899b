"""Surveys in a browser: an agent fills the survey during a call; a patient answers an SMS
link on a phone in Chinese; the low score is a complaint with a deadline in the supervisor's
list; praise shows per staff member. In a clinic of its own, dropped afterwards."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm import workdays
from crm.models import FollowUpRule, Message, RuleStep
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from surveys import links
from surveys.models import SurveyResponse, SurveyTemplate
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.clock import SHANGHAI
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-surveys"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 满意度医院", slug=SLUG, kind="hospital", admin_email="admin@e2e-s.test"
        ).tenant
        tenant.calling_hours = tenant.message_hours = [["00:00", "24:00"]]
        tenant.save()
        with tenant_context(tenant):
            StaffFactory(email="agent@e2e-s.test", role="agent", first_name="小", last_name="王")
            StaffFactory(
                email="sup@e2e-s.test", role="supervisor", first_name="周", last_name="主任"
            )
            StaffFactory(
                email="nurse@e2e-s.test", role="clinician", first_name="李", last_name="护士"
            )
            survey = SurveyTemplate.objects.get(name="住院患者满意度调查")
            # The preset discharge rule calls with the survey; a second rule sends it by SMS.
            link_rule = FollowUpRule.objects.create(name="短信问卷", match_kinds=["surgery"])
            RuleStep.objects.create(
                rule=link_rule,
                name="术后问卷",
                offset_days=0,
                due_days=3,
                channel="survey_link",
                survey=survey,
            )
            called = EncounterFactory(
                contact=ContactFactory(name="张伟", phone="+8613800138001"),
                # Improved or cured, the ward would call him (the hospital preset); with no
                # outcome recorded the follow-up centre does.
                discharge_outcome="",
                occurred_at=timezone.now() - timedelta(days=4),
            )
            texted = EncounterFactory(
                kind="surgery",
                contact=ContactFactory(name="王芳", phone="+8613800138002"),
                occurred_at=timezone.now() - timedelta(hours=2),
            )
            encounters_plan([called.pk, texted.pk])
            followup_tick()  # the SMS goes to the outbox (no provider here: shown, not sent)
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _in_clinic(work):
    def run():
        with tenant_context(Tenant.objects.get(schema_name=SLUG)):
            return work()

    return committed(run)


def test_survey_by_call_by_sms_link_then_complaint_and_praise(
    browser, phone_page, clinic, tenant_url, screenshot
):
    # 1. The agent reaches 张伟 and fills the survey with him, praising the nurse.
    agent = browser.new_context().new_page()
    sign_in(agent, tenant_url(SLUG, "/accounts/login/"), "agent@e2e-s.test")
    agent.click("nav >> text=回访工作台")
    agent.locator("table.worklist tr", has_text="张伟").locator("button").click()
    agent.wait_for_selector(".call-survey")
    assert "您对本次住院的总体满意度" in agent.content()
    agent.locator("input[name=outcome]").first.check()
    for key in ("q1", "q2", "q3", "q4", "q5", "q6"):
        agent.locator(f"#question-{key} label", has_text="5").click()
    agent.locator("#question-q7 label", has_text="10").click()
    agent.select_option("select[name=q_q8]", label="李 护士")
    screenshot(agent, "call-survey-zh")
    agent.click("button:has-text('保存并打开下一条')")
    agent.wait_for_load_state()
    agent.context.close()

    # 2. 王芳 opens the SMS link on her phone and gives low scores with a complaint.
    body = _in_clinic(lambda: Message.objects.get(purpose="survey").body)
    # The SMS carries the short link: /s/ and 10 characters, no signature, no slash.
    path = re.search(r"/s/[2-9a-zA-Z]{10}(?=\s)", body).group(0)
    phone_page.goto(tenant_url(SLUG, path))
    assert phone_page.locator("h1").inner_text() == "住院患者满意度调查"
    for key in ("q1", "q2", "q3", "q4", "q5", "q6"):
        phone_page.locator(f"#question-{key} label", has_text="1").first.click()
    phone_page.locator("#question-q7 label", has_text="2").first.click()
    phone_page.fill("textarea[name=q_q9]", "出院手续等了三个小时")
    screenshot(phone_page, "survey-phone-zh")
    phone_page.click("button:has-text('提交')")
    assert "感谢" in phone_page.locator("main").inner_text()
    phone_page.goto(tenant_url(SLUG, path))  # the link is spent
    assert "已经" in phone_page.locator("main").inner_text()

    responses = _in_clinic(
        lambda: sorted((r.source, r.satisfaction) for r in SurveyResponse.objects.all())
    )
    assert responses == [("call", "satisfied"), ("link", "dissatisfied")]

    # 3. The supervisor sees the complaint with its deadline, and the praise of the nurse.
    supervisor = browser.new_context().new_page()
    sign_in(supervisor, tenant_url(SLUG, "/accounts/login/"), "sup@e2e-s.test")
    supervisor.click("nav >> text=投诉")
    row = supervisor.locator("table tbody tr", has_text="王芳")
    deadline = workdays.add_working_days(
        timezone.now(), 5, calendar=workdays.calendar_for("CN"), zone=SHANGHAI
    )
    deadline = deadline.date().isoformat()  # the hospital preset: 5 working days
    assert deadline in row.inner_text()
    row.locator("a").first.click()
    assert "出院手续等了三个小时" in supervisor.content()
    screenshot(supervisor, "complaint-zh")
    supervisor.goto(tenant_url(SLUG, "/praise/"))
    assert "李 护士" in supervisor.content()
    supervisor.context.close()


def test_a_short_sms_link_opens_in_the_contacts_english(phone_page, clinic, tenant_url):
    def invite():
        survey = SurveyTemplate.objects.get(name="住院患者满意度调查")
        contact = ContactFactory(name="Mary Smith", phone="+8613800138003", language="en")
        return links.invitation_create(survey, contact, channel="sms", short=True)[1]

    code = _in_clinic(invite)
    phone_page.goto(tenant_url(SLUG, f"/s/{code}"))

    assert "Overall, how satisfied were you with your stay?" in phone_page.content()
    assert phone_page.locator("button[type=submit]").inner_text().strip() == "Send my answers"
    phone_page.goto(tenant_url(SLUG, f"/s/{code}/stop"))  # it asks before opting out
    assert phone_page.locator("form button").inner_text().strip() == "Yes, stop contacting me"
    guessed = phone_page.goto(tenant_url(SLUG, "/s/zzzzzzzzz2"))
    assert guessed.status == 404

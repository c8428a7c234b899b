"""The anti-fraud pre-notice in a browser (issue 19 §3.2), in Chinese and in English: on the
rules page an administrator asks for an SMS before the first call of a phone step and saves;
the same box on an SMS step is refused with its reason; the month's report shows the "hung
up, suspected fraud" rate of announced calls against the others.

It runs in a clinic of its own, provisioned for this module and dropped afterwards, because
everything the live server writes is committed."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from crm.models import FollowUpRule, FollowUpTask, Message, OutcomeCode, RuleStep
from crm.services.followup import AttemptInput, attempt_log
from crm.services.followup_messages import task_pre_notice_queue
from crm.services.planning import encounters_plan
from saas import clock
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-pre-notice"

TEXT = {
    "zh-hans": {
        "box": "首次来电前发送短信",
        "save": "保存规则",
        "saved": "规则已保存",
        "refused": "只有电话回访才能提前发送来电通知短信。",
        "figure": "疑似诈骗挂断",
        "rates": "来电前已发通知短信：0.00 %（0 / 1） · 未发通知：50.00 %（1 / 2）",
    },
    "en": {
        "box": "SMS before the first call",
        "save": "Save rule",
        "saved": "Rule saved.",
        "refused": "Only a phone call is announced by an SMS beforehand.",
        "figure": "Hung up, suspected fraud",
        "rates": "0.00 % with an SMS before the first call (0 / 1) · 50.00 % without (1 / 2)",
    },
}


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """This month: one phone follow-up announced by a pre-notice SMS (answered), two not
    (one hung up as a suspected fraud); and, per language, a phone rule and an SMS rule
    without a pre-notice for the administrator to edit."""

    def create():
        tenant = tenant_provision(
            name="E2E 来电预告医院", slug=SLUG, kind="hospital", admin_email="admin@notice.test"
        ).tenant
        tenant.caller_number = "010-6512 3456"
        tenant.save()
        with tenant_context(tenant):
            StaffFactory(email="boss@notice.test", role="admin")
            agent = StaffFactory(email="agent@notice.test", role="agent")
            FollowUpRule.objects.update(active=False)
            announced = RuleFactory(
                name="预告回访", steps=[{"offset_days": 0, "due_days": 3, "pre_notice": True}]
            )
            plain = RuleFactory(name="普通回访", steps=[{"offset_days": 0, "due_days": 3}])
            now = clock.now()
            tasks = []
            for rule in (announced, plain, plain):
                FollowUpRule.objects.exclude(pk=rule.pk).update(active=False)
                FollowUpRule.objects.filter(pk=rule.pk).update(active=True)
                encounter = EncounterFactory(
                    occurred_at=now - timedelta(days=1), contact=ContactFactory()
                )
                encounters_plan([encounter.pk])
                tasks.append(FollowUpTask.objects.get(encounter=encounter))
            FollowUpRule.objects.update(active=False)
            assert task_pre_notice_queue(task_id=tasks[0].pk, now=now) == 1
            # The provider accepted it: only a notice that went out counts as announced.
            Message.objects.filter(task=tasks[0]).update(status=Message.Status.SENT, sent_at=now)
            reached = OutcomeCode.objects.filter(category="reached").first()
            fraud = OutcomeCode.objects.filter(category="hung_up_suspected_fraud").first()
            for task, code in zip(tasks, (reached, fraud, reached), strict=True):
                attempt_log(task, agent, AttemptInput(outcome=code), now=now)
            for language in TEXT:
                RuleFactory(name=f"电话回访 {language}")
                RuleFactory(name=f"短信回访 {language}", steps=[{"channel": "sms"}])
        return tenant

    yield from committed_tenant(django_db_blocker, create)


def _pre_notice(name: str) -> bool:
    def read():
        with tenant_context(Tenant.objects.get(schema_name=SLUG)):
            return RuleStep.objects.get(rule__name=name).pre_notice

    return committed(read)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_administrator_asks_for_the_notice_and_reads_its_effect_in_the_report(
    clinic, page, tenant_url, screenshot, language
):
    text = TEXT[language]
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), "boss@notice.test")
    if language == "en":
        page.click("button[name=language][value=en]")
        page.wait_for_load_state("load")

    page.goto(tenant_url(SLUG, "/rules/"))
    page.get_by_role("link", name=f"电话回访 {language}", exact=True).click()
    page.wait_for_load_state("load")
    step = page.locator("fieldset.step", has_text="Day 3")
    step.get_by_label(text["box"]).check()
    page.get_by_role("button", name=text["save"]).click()
    page.wait_for_load_state("load")
    assert text["saved"] in page.locator(".messages").inner_text()
    assert page.locator("fieldset.step", has_text="Day 3").get_by_label(text["box"]).is_checked()
    assert _pre_notice(f"电话回访 {language}") is True

    page.goto(tenant_url(SLUG, "/rules/"))
    page.get_by_role("link", name=f"短信回访 {language}", exact=True).click()
    page.wait_for_load_state("load")
    page.locator("fieldset.step", has_text="Day 3").get_by_label(text["box"]).check()
    page.get_by_role("button", name=text["save"]).click()
    page.wait_for_load_state("load")
    assert text["refused"] in page.locator("fieldset.step", has_text="Day 3").inner_text()
    assert _pre_notice(f"短信回访 {language}") is False

    page.goto(tenant_url(SLUG, f"/reports/?month={clock.today():%Y-%m}"))
    row = page.locator("#kpi-fraud-hang-ups")
    assert row.locator("th").inner_text() == text["figure"]
    assert row.locator("td").inner_text() == text["rates"]
    screenshot(page, f"report-pre-notice-{language}")

"""Issue 22's "done when", in the browser: a hospital's administrator picks Alibaba Cloud SMS,
enters the account's credentials (the fake's, on 127.0.0.1), maps the survey invitation to the
provider's approved template, sends a test; the next discharge follow-up's survey link goes out
through Alibaba Cloud; the patient's reply "TD", pushed to the clinic's callback address, opts
them out; a patient linked to the clinic's WeChat account gets the same link in WeChat instead.
The set-up pages are walked in Chinese and in English."""

import json
from datetime import timedelta
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Contact, FollowUpRule, FollowUpTask, Message, SmsAccount
from crm.models.wechat import WeChatLinkToken
from crm.services.followup import followup_tick
from crm.services.outbox import messages_send, outbox_due
from crm.services.planning import encounters_plan
from crm.services.wechat import (
    wechat_account_save,
    wechat_event_receive,
    wechat_link_offer,
    wechat_template_save,
)
from surveys.models import SurveyInvitation
from tenants.models import Tenant
from tenants.services import tenant_provision
from tests.conftest import committed, committed_tenant
from tests.e2e.test_shell import sign_in
from tests.factories import (
    PASSWORD,
    ContactFactory,
    EncounterFactory,
    RuleFactory,
    authenticator_add,
)
from tests.fake_aliyun import FakeAliyun
from tests.fake_wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, event_xml
from tests.surveys.conftest import STANDARD, survey_with

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SLUG = "e2e-aliyun"
ADMIN = "admin@aliyun.test"
SIGN = "康复随访"
SECRET = "e2e-aliyun-secret"
SURVEY_CODE = "SMS_490001"
# The provider's approved text holds the address; our short code fills it (crm.message_templates).
SURVEY_TEXT = "${name}您好，请评价本次住院服务：{host}/s/${code} 退订回TD"
OPENID = "oE2Ewechatpatient000000000001"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 阿里云医院", slug=SLUG, kind="hospital", admin_email=ADMIN
        ).tenant
        tenant.message_hours = [["00:00", "24:00"]]
        tenant.save()
        with tenant_context(tenant):
            admin = get_user_model().objects.get(email=ADMIN)
            admin.set_password(PASSWORD)
            admin.save()
            authenticator_add(admin)
        return tenant

    yield from committed_tenant(django_db_blocker, create)


@pytest.fixture
def providers(settings, clinic):
    aliyun = FakeAliyun(key_secret=SECRET, sign_name=SIGN)
    aliyun.templates[SURVEY_CODE] = (
        SURVEY_TEXT.replace("{host}", f"https://{clinic.primary_host}"),
        True,
    )
    wechat = FakeWeChat()
    settings.SMS_API_BASE = ""
    settings.SMS_ENDPOINTS = {**settings.SMS_ENDPOINTS, "aliyun": aliyun.base}
    settings.WECHAT_API_BASE = wechat.base
    yield aliyun, wechat
    aliyun.close()
    wechat.close()


def _survey_follow_up(phone: str, *, wechat_fake=None) -> int:
    """A discharge with a survey-link follow-up due now; the patient linked to WeChat when a
    fake WeChat is given. Returns the follow-up's id."""
    with tenant_context(Tenant.objects.get(schema_name=SLUG)):
        FollowUpRule.objects.update(active=False)
        survey = survey_with(STANDARD)
        RuleFactory(
            steps=[{"offset_days": 0, "due_days": 3, "channel": "survey_link", "survey": survey}]
        )
        contact = ContactFactory(name="王芳", phone=phone)
        if wechat_fake is not None:
            wechat_link_offer(contact=contact, source=WeChatLinkToken.Source.SURVEY)
            scene = wechat_fake.qrcodes[-1]["scene"]
            wechat_fake.follow(OPENID)
            assert (
                wechat_event_receive(
                    xml=event_xml(OPENID, "subscribe", event_key=f"qrscene_{scene}")
                )
                == "linked"
            )
        encounter = EncounterFactory(
            contact=contact, kind="discharge", occurred_at=timezone.now() - timedelta(days=1)
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter).pk


def _tick() -> None:
    """The beat's tick for the clinic, and the worker sending what it queued."""
    with tenant_context(Tenant.objects.get(schema_name=SLUG)):
        followup_tick()
        messages_send(outbox_due())


def _in_clinic(read):
    with tenant_context(Tenant.objects.get(schema_name=SLUG)):
        return read()


def test_alibaba_cloud_carries_the_survey_link_td_opts_out_and_wechat_comes_first(
    browser, clinic, tenant_url, screenshot, providers
):
    aliyun, wechat = providers
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, tenant_url(SLUG, "/accounts/login/"), ADMIN)

    # The provider and its credentials, in Chinese.
    page.goto(tenant_url(SLUG, "/settings/sms/"))
    page.select_option("select[name=provider]", "aliyun")
    page.fill("input[name=key_id]", aliyun.key_id)
    page.fill("input[name=key_secret]", SECRET)
    page.fill("input[name=sign_name]", SIGN)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("load")
    assert "短信服务商已保存" in page.inner_text("main")
    assert SECRET not in page.content()
    screenshot(page, "sms-provider-zh")

    # The survey invitation's SMS text, customised, then mapped, in English.
    page.click("button[name=language][value=en]")
    page.goto(tenant_url(SLUG, "/messages/templates/"))
    page.locator(
        "tr:has-text('Survey invitation · SMS · 简体中文') button:has-text('Customise')"
    ).click()
    page.wait_for_load_state("load")
    page.click('a:has-text("Provider\'s approved template")')
    page.fill("input[name=code]", SURVEY_CODE)
    page.click("button[name=action][value=load]")
    page.select_option("select[name=var_name]", "contact_name")
    page.select_option("select[name=var_code]", "survey_code")
    page.click("button[name=action][value=save]")
    page.wait_for_load_state("load")
    assert "Template mapping saved." in page.inner_text("main")
    screenshot(page, "sms-mapping-en")

    # Send a test, in English: the provider's id comes back.
    page.goto(tenant_url(SLUG, "/settings/sms/"))
    page.fill("input[name=to]", "13800138000")
    page.click("form[action$='/settings/sms/test/'] button[type=submit]")
    page.wait_for_load_state("load")
    assert aliyun.sent[-1]["biz_id"] in page.inner_text("main")
    assert aliyun.sent[-1]["TemplateCode"] == SURVEY_CODE

    # The next discharge follow-up: its survey link goes out through Alibaba Cloud.
    committed(_survey_follow_up, "+8613800138555")
    committed(_tick)
    sent = aliyun.sent[-1]
    assert (sent["PhoneNumbers"], sent["TemplateCode"], sent["SignName"]) == (
        "13800138555",
        SURVEY_CODE,
        SIGN,
    )
    assert sent["params"]["name"] == "王芳"
    code = sent["params"]["code"]
    assert len(code) == 10
    # The link in the text the patient received opens the survey.
    survey_page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    survey_page.goto(tenant_url(SLUG, f"/s/{code}"))
    assert survey_page.locator("form").count() >= 1
    survey_page.context.close()

    # The patient replies TD: Alibaba pushes it to the clinic's callback address.
    secret = committed(_in_clinic, lambda: SmsAccount.objects.get().callback_secret)
    address = urlsplit(tenant_url(SLUG, f"/hooks/sms/aliyun/{secret}/inbound/"))
    callback = Request(
        f"http://127.0.0.1:{address.port}{address.path}",
        data=aliyun.callback_body("inbound", ("13800138555", "TD")),
        headers={"Content-Type": "application/json", "Host": address.netloc},
    )
    with urlopen(callback, timeout=10) as answer:
        assert json.loads(answer.read()) == {"code": 0, "msg": "成功"}
    assert committed(_in_clinic, lambda: Contact.objects.filter(do_not_contact=True).count()) == 1

    # A patient who follows the clinic's WeChat account gets the same link there, not by SMS.
    def wechat_connect():
        with tenant_context(Tenant.objects.get(schema_name=SLUG)):
            account = wechat_account_save(
                app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, actor=None
            )
            wechat_template_save(
                account=account,
                purpose="survey",
                template_id="TPL-SURVEY",
                data={
                    "thing1": "clinic_name",
                    "thing2": "contact_name",
                    "thing3": "follow_up_name",
                },
            )

    committed(wechat_connect)
    sms_before = len(aliyun.sent)
    committed(_survey_follow_up, "+8613800138666", wechat_fake=wechat)
    committed(_tick)
    assert len(aliyun.sent) == sms_before
    [message] = wechat.sent
    assert (message["touser"], message["template_id"]) == (OPENID, "TPL-SURVEY")
    assert "/s/" in message["url"]
    channels = committed(
        _in_clinic,
        lambda: sorted(SurveyInvitation.objects.values_list("channel", flat=True)),
    )
    assert channels == ["sms", "wechat"]
    assert committed(_in_clinic, lambda: Message.objects.filter(status="failed").count()) == 0
    page.context.close()

"""A clinic on a template SMS provider, end to end through the outbox: its templates mapped to
the provider's approved ones (checked when saved), follow-ups sent as template + parameters,
delivery reports and replies pushed to the clinic's callback address (verified by its secret,
kept once), and the provider's refusals classified. The provider is Alibaba Cloud's fake on
127.0.0.1, reached through the vendor's SDK."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from crm.gateways import Receipt
from crm.models import (
    Contact,
    FollowUpRule,
    FollowUpTask,
    InboundMessage,
    Message,
    MessageTemplate,
    SmsAccount,
    SmsReceipt,
)
from crm.services import outbox, sms_accounts, sms_reports
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from tests.factories import ContactFactory, EncounterFactory, RuleFactory
from tests.fake_aliyun import FakeAliyun
from tests.fake_tencent import FakeTencent

SIGN = "阿尔法医院"
SECRET = "alpha-aliyun-secret"
FOLLOW_UP_CODE = "SMS_480001"
FOLLOW_UP_TEXT = "${contact_name}您好，这是您的${step}回访提醒，如有不适请及时就医。"


@pytest.fixture
def aliyun(settings):
    fake = FakeAliyun(key_secret=SECRET, sign_name=SIGN)
    fake.templates[FOLLOW_UP_CODE] = (FOLLOW_UP_TEXT, True)
    settings.SMS_API_BASE = ""
    settings.SMS_ENDPOINTS = {**settings.SMS_ENDPOINTS, "aliyun": fake.base}
    yield fake
    fake.close()


@pytest.fixture
def all_day(tenant_a):
    tenant_a.message_hours = [["00:00", "24:00"]]
    tenant_a.save()
    return tenant_a


def _account(aliyun, admin_client, **overrides):
    data = {
        "provider": "aliyun",
        "key_id": aliyun.key_id,
        "key_secret": SECRET,
        "app_id": "",
        "sign_name": SIGN,
        "region": "",
    } | overrides
    response = admin_client.post(reverse("sms_provider"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]


def _follow_up_template() -> MessageTemplate:
    template, _created = MessageTemplate.objects.get_or_create(
        purpose="follow_up", channel="sms", language="zh-hans", defaults={"body": "…"}
    )
    return template


def _mapped(aliyun, admin_client, tenant, in_tenant):
    _account(aliyun, admin_client)
    with in_tenant(tenant):
        template = _follow_up_template()
    response = admin_client.post(
        reverse("message_template_mapping", args=[template.pk]),
        {
            "action": "save",
            "code": FOLLOW_UP_CODE,
            "var_contact_name": "contact_name",
            "var_step": "follow_up_name",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    return template


def _sms_follow_up(tenant, in_tenant, *, phone="+8613800138222") -> FollowUpTask:
    with in_tenant(tenant):
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 3, "channel": "sms"}])
        encounter = EncounterFactory(
            contact=ContactFactory(name="王芳", phone=phone),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        return FollowUpTask.objects.get(encounter=encounter)


def _tick(tenant, in_tenant, capture):
    with in_tenant(tenant), capture(execute=True):
        followup_tick()


def _callback_url(tenant, in_tenant, kind: str) -> str:
    with in_tenant(tenant):
        account = SmsAccount.objects.get()
    return reverse("sms_provider_callback", args=["aliyun", account.callback_secret, kind])


# -- mapping ----------------------------------------------------------------------------------


def test_the_mapping_page_loads_the_providers_variables_and_saves_what_fills_them(
    aliyun, admin_client_a, tenant_a, in_tenant
):
    _account(aliyun, admin_client_a)
    with in_tenant(tenant_a):
        template = _follow_up_template()
    url = reverse("message_template_mapping", args=[template.pk])

    page = admin_client_a.post(url, {"action": "load", "code": FOLLOW_UP_CODE}).content.decode()
    assert 'name="var_contact_name"' in page and 'name="var_step"' in page

    admin_client_a.post(
        url,
        {
            "action": "save",
            "code": FOLLOW_UP_CODE,
            "var_contact_name": "contact_name",
            "var_step": "follow_up_name",
        },
    )
    with in_tenant(tenant_a):
        template.refresh_from_db()
        assert (template.provider, template.provider_template_code) == ("aliyun", FOLLOW_UP_CODE)
        assert template.provider_params == {
            "contact_name": "contact_name",
            "step": "follow_up_name",
        }


def test_a_template_the_provider_does_not_know_is_refused_at_the_template(
    aliyun, admin_client_a, tenant_a, in_tenant
):
    _account(aliyun, admin_client_a)
    with in_tenant(tenant_a):
        template = _follow_up_template()

    response = admin_client_a.post(
        reverse("message_template_mapping", args=[template.pk]),
        {"action": "save", "code": "SMS_999999", "var_contact_name": "contact_name"},
    )

    assert response.status_code == 400
    assert "SMS_999999" in response.content.decode()
    with in_tenant(tenant_a):
        template.refresh_from_db()
        assert template.provider_template_code == ""


def test_a_variable_left_unfilled_is_refused_and_nothing_is_saved(
    aliyun, admin_client_a, tenant_a, in_tenant
):
    _account(aliyun, admin_client_a)
    with in_tenant(tenant_a):
        template = _follow_up_template()
        with pytest.raises(sms_accounts.ValidationError) as refused:
            sms_accounts.message_template_map(
                actor=None,
                template=template,
                code=FOLLOW_UP_CODE,
                params={"contact_name": "contact_name"},
            )
        template.refresh_from_db()
        assert template.provider_template_code == ""
    assert "step" in " ".join(refused.value.messages)


# -- sending ----------------------------------------------------------------------------------


def test_a_follow_up_goes_out_as_the_approved_template_with_its_parameters(
    aliyun, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    task = _sms_follow_up(tenant_a, in_tenant)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert len(aliyun.sent) == 1
    sent = aliyun.sent[0]
    assert (sent["PhoneNumbers"], sent["SignName"], sent["TemplateCode"]) == (
        "13800138222",
        SIGN,
        FOLLOW_UP_CODE,
    )
    assert sent["params"] == {"contact_name": "王芳", "step": task.name}
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert (message.status, message.provider_id) == ("sent", sent["biz_id"])
        assert sent["OutId"] == f"{tenant_a.schema_name}-{message.pk}"


def test_a_message_of_a_purpose_not_mapped_fails_at_once_saying_what_to_do(
    aliyun, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _account(aliyun, admin_client_a)  # no template mapped
    _sms_follow_up(tenant_a, in_tenant)

    with translation.override("en"):
        _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert aliyun.sent == []
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert message.status == "failed"
        # Written by the worker in the clinic's language (alpha's: zh-Hans).
        assert "请在消息页面设置" in message.last_error


def test_a_per_number_limit_of_the_provider_waits_and_is_sent_later_once(
    aliyun, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    _sms_follow_up(tenant_a, in_tenant)
    aliyun.script.append("isv.BUSINESS_LIMIT_CONTROL")

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert message.status == "queued"
        assert message.send_after > timezone.now() + timedelta(minutes=30)
        assert "BUSINESS_LIMIT_CONTROL" in message.last_error
    assert aliyun.sent == []


def test_the_provider_down_keeps_the_message_queued_and_it_goes_once_later(
    aliyun, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    _sms_follow_up(tenant_a, in_tenant)
    aliyun.script.append(503)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert (message.status, message.attempts) == ("queued", 1)
        Message.objects.filter(pk=message.pk).update(send_after=timezone.now())
        outbox.messages_send(outbox.outbox_due())  # what the next tick hands to a worker

    assert len(aliyun.sent) == 1
    with in_tenant(tenant_a):
        assert Message.objects.get().status == "sent"


def test_a_number_the_provider_refuses_for_good_fails_as_blocked(
    aliyun, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    task = _sms_follow_up(tenant_a, in_tenant, phone="+8613800138333")
    aliyun.refused.add("13800138333")

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert message.status == "failed"
        assert "CUSTOMER_REFUSED" in message.last_error
        task.refresh_from_db()
        assert (task.status, task.reason) == ("unreachable", "message_failed")


# -- what the provider reports back ------------------------------------------------------------


def test_a_delivery_report_pushed_to_the_callback_marks_the_message_delivered_once(
    aliyun,
    admin_client_a,
    client_a,
    tenant_a,
    in_tenant,
    all_day,
    django_capture_on_commit_callbacks,
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    _sms_follow_up(tenant_a, in_tenant)
    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)
    url = _callback_url(tenant_a, in_tenant, "status")
    body = aliyun.callback_body("status", aliyun.sent[0]["biz_id"])

    first = client_a.post(url, body, content_type="application/json")
    replay = client_a.post(url, body, content_type="application/json")

    assert first.status_code == replay.status_code == 200
    assert json.loads(first.content) == {"code": 0, "msg": "成功"}
    with in_tenant(tenant_a):
        assert Message.objects.get().status == "delivered"
        assert SmsReceipt.objects.count() == 1


def test_a_report_for_an_unknown_message_is_kept_and_touches_nothing(
    aliyun, admin_client_a, client_a, tenant_a, in_tenant
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    body = json.dumps(
        [
            {
                "phone_number": "13800138000",
                "success": True,
                "biz_id": "123456^0",
                "out_id": "",
                "err_code": "DELIVERED",
                "err_msg": "用户接收成功",
                "send_time": "2026-12-04 10:00:00",
                "report_time": "2026-12-04 10:00:05",
                "sms_size": "1",
            }
        ]
    ).encode()

    response = client_a.post(
        _callback_url(tenant_a, in_tenant, "status"), body, content_type="application/json"
    )

    assert response.status_code == 200
    with in_tenant(tenant_a):
        kept = SmsReceipt.objects.get()
        assert (kept.provider_id, kept.applied_at) == ("123456^0", None)
        assert not Message.objects.exists()


def test_a_report_that_arrives_before_the_send_is_recorded_is_applied_after_it(
    aliyun, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    _sms_follow_up(tenant_a, in_tenant)
    next_biz_id = f"{aliyun._next_biz + 1}^0"  # the id the provider will give the message
    with in_tenant(tenant_a):
        sms_accounts.receipts_record([Receipt(provider_id=next_biz_id, delivered=True)])

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert (message.provider_id, message.status) == (next_biz_id, "delivered")


def test_a_reply_td_pushed_to_the_callback_opts_the_patient_out(
    aliyun, admin_client_a, client_a, tenant_a, in_tenant
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    with in_tenant(tenant_a):
        contact = ContactFactory(name="李雷", phone="+8613800138444")
    body = aliyun.callback_body("inbound", ("13800138444", "TD"))
    url = _callback_url(tenant_a, in_tenant, "inbound")

    assert client_a.post(url, body, content_type="application/json").status_code == 200
    assert client_a.post(url, body, content_type="application/json").status_code == 200

    with in_tenant(tenant_a):
        assert Contact.objects.get(pk=contact.pk).do_not_contact
        assert InboundMessage.objects.get().result == "opted_out"


def test_a_body_that_is_not_the_providers_is_refused_and_nothing_is_kept(
    aliyun, admin_client_a, client_a, tenant_a, in_tenant
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    response = client_a.post(
        _callback_url(tenant_a, in_tenant, "status"), b"<xml/>", content_type="application/xml"
    )
    assert response.status_code == 400
    with in_tenant(tenant_a):
        assert not SmsReceipt.objects.exists()


def test_one_clinics_callback_secret_opens_nothing_at_another_clinic(
    aliyun, admin_client_a, client_b, tenant_a, tenant_b, in_tenant
):
    _mapped(aliyun, admin_client_a, tenant_a, in_tenant)
    url = _callback_url(tenant_a, in_tenant, "inbound")
    body = aliyun.callback_body("inbound", ("13800138444", "TD"))

    assert client_b.post(url, body, content_type="application/json").status_code == 403
    with in_tenant(tenant_b):
        assert not InboundMessage.objects.exists()


def test_send_a_test_through_alibaba_uses_the_mapped_survey_template(
    aliyun, admin_client_a, tenant_a, in_tenant
):
    _account(aliyun, admin_client_a)
    aliyun.templates["SMS_480002"] = ("${contact_name}您好，请评价本次服务：${link}", True)
    with in_tenant(tenant_a):
        template, _created = MessageTemplate.objects.get_or_create(
            purpose="survey", channel="sms", language="zh-hans", defaults={"body": "…"}
        )
        sms_accounts.message_template_map(
            actor=None,
            template=template,
            code="SMS_480002",
            params={"contact_name": "contact_name", "link": "survey_link"},
        )

    admin_client_a.post(reverse("sms_provider_test"), {"to": "13800138000"})

    assert [m["TemplateCode"] for m in aliyun.sent] == ["SMS_480002"]
    with in_tenant(tenant_a):
        assert SmsAccount.objects.get().test_result.endswith(aliyun.sent[0]["biz_id"])


def test_wrong_credentials_say_so_at_send_a_test(aliyun, admin_client_a, tenant_a, in_tenant):
    _account(aliyun, admin_client_a, key_secret="not-the-secret")
    with in_tenant(tenant_a):
        template, _created = MessageTemplate.objects.get_or_create(
            purpose="survey", channel="sms", language="zh-hans", defaults={"body": "…"}
        )
        MessageTemplate.objects.filter(pk=template.pk).update(
            provider="aliyun", provider_template_code=FOLLOW_UP_CODE, provider_params={}
        )

    admin_client_a.post(reverse("sms_provider_test"), {"to": "13800138000"})

    assert aliyun.sent == []
    with in_tenant(tenant_a):
        assert "SignatureDoesNotMatch" in SmsAccount.objects.get().test_result


# -- Tencent Cloud: the same outbox, positional parameters, reports fetched by pull ---------------


@pytest.fixture
def tencent(settings):
    fake = FakeTencent()
    fake.templates["1110"] = ("{1}您好，这是您的{2}回访提醒，回复TD退订", True)
    settings.SMS_API_BASE = ""
    settings.SMS_ENDPOINTS = {**settings.SMS_ENDPOINTS, "tencent": fake.base}
    yield fake
    fake.close()


def _tencent_mapped(tencent, admin_client, tenant, in_tenant):
    response = admin_client.post(
        reverse("sms_provider"),
        {
            "provider": "tencent",
            "key_id": tencent.secret_id,
            "key_secret": tencent.secret_key,
            "app_id": tencent.app_id,
            "sign_name": "仁心医院",
            "region": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    with in_tenant(tenant):
        sms_accounts.message_template_map(
            actor=None,
            template=_follow_up_template(),
            code="1110",
            params={"1": "contact_name", "2": "follow_up_name"},
        )


def test_tencent_sends_the_parameters_in_the_templates_order_and_pulls_the_reports(
    tencent, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _tencent_mapped(tencent, admin_client_a, tenant_a, in_tenant)
    tencent.param_max_length = 20  # the follow-up's name ("Rule 0 · Day 3") fits
    task = _sms_follow_up(tenant_a, in_tenant, phone="+8613800138000")

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert len(tencent.sent) == 1
    assert tencent.sent[0]["TemplateParamSet"] == ["王芳", task.name]
    with in_tenant(tenant_a):
        message = Message.objects.get()
        tencent.receipt(message.provider_id, delivered=True)
        tencent.reply("TD", phone="+8613800138000")
        assert sms_reports.sms_pull(now=timezone.now() + timedelta(minutes=15)) == 2
        assert Message.objects.get().status == "delivered"
        assert Contact.objects.get().do_not_contact
        # Pulled again: the provider hands each report once; nothing changes.
        sms_reports.sms_pull(now=timezone.now() + timedelta(minutes=16))
        assert InboundMessage.objects.count() == 1


def test_tencent_reply_pushed_to_the_callback_is_recorded_once(
    tencent, admin_client_a, client_a, tenant_a, in_tenant
):
    _tencent_mapped(tencent, admin_client_a, tenant_a, in_tenant)
    with in_tenant(tenant_a):
        ContactFactory(name="李雷", phone="+8613800138444")
        secret = SmsAccount.objects.get().callback_secret
    url = reverse("sms_provider_callback", args=["tencent", secret, "inbound"])
    body = tencent.reply_body("TD", mobile="13800138444")

    first = client_a.post(url, body, content_type="application/json")
    client_a.post(url, body, content_type="application/json")

    assert json.loads(first.content) == {"result": 0, "errmsg": "OK"}
    with in_tenant(tenant_a):
        assert InboundMessage.objects.get().result == "opted_out"


def test_a_variable_too_long_for_the_providers_template_fails_with_the_reason(
    tencent, admin_client_a, tenant_a, in_tenant, all_day, django_capture_on_commit_callbacks
):
    _tencent_mapped(tencent, admin_client_a, tenant_a, in_tenant)
    tencent.param_max_length = 6  # a new Tencent account's limit per variable
    task = _sms_follow_up(tenant_a, in_tenant)

    _tick(tenant_a, in_tenant, django_capture_on_commit_callbacks)

    assert tencent.sent == []
    with in_tenant(tenant_a):
        message = Message.objects.get()
        assert message.status == "failed"
        assert "TemplateParameterLengthLimit" in message.last_error
        task.refresh_from_db()
        assert task.status == "unreachable"

"""The Alibaba Cloud SMS adapter against a local Dysmsapi (tests/fake_aliyun.py) through the
vendor's real SDK: what arrives, how each documented error is classified, template
variables, delivery reports and replies by push and by pull, and one clinic's AccessKey
seeing nothing of another's."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import translation

from crm.gateways import Outgoing, PendingReceipt, ProviderError, Receipt, Reply
from crm.gateways.aliyun import AliyunSms, phone_for_alibaba, phone_from_alibaba
from saas import clock
from tests.clock import at
from tests.fake_aliyun import FakeAliyun

SECRET = "alpha-secret"
SIGN = "康复随访"
TEMPLATE = "SMS_465300001"
CONTENT = "${name}您好，请于${date}来院复诊，详询${phone}。${name}祝您康复。"


@pytest.fixture(autouse=True)
def english():
    """The messages below are asserted in English; one test reads them in Chinese."""
    with translation.override("en"):
        yield


@pytest.fixture
def fake():
    fake = FakeAliyun(key_secret=SECRET, sign_name=SIGN)
    fake.templates[TEMPLATE] = (CONTENT, True)
    yield fake
    fake.close()


@pytest.fixture
def gateway(fake):
    return AliyunSms(key_id=fake.key_id, key_secret=SECRET, sign_name=SIGN, endpoint=fake.base)


def outgoing(to="+8613800138000", key="alpha-41", **overrides):
    values = {
        "to": to,
        "body": "",
        "key": key,
        "template_code": TEMPLATE,
        "params": {"name": "王芳", "date": "11月20日", "phone": "010-12345678"},
    }
    return Outgoing(**(values | overrides))


def refused(gateway, message=None) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        gateway.send(message or outgoing())
    return caught.value


# -- sending -------------------------------------------------------------------------------


def test_a_send_arrives_with_number_signature_template_variables_and_our_key(gateway, fake):
    sent = gateway.send(outgoing())

    [message] = fake.sent
    assert sent.provider_id == message["biz_id"] and sent.provider_id.endswith("^0")
    assert message["PhoneNumbers"] == "13800138000"  # mainland: no +86
    assert message["SignName"] == SIGN and message["TemplateCode"] == TEMPLATE
    assert message["params"] == {"name": "王芳", "date": "11月20日", "phone": "010-12345678"}
    assert message["OutId"] == "alpha-41"
    assert message["content"] == (
        "【康复随访】王芳您好，请于11月20日来院复诊，详询010-12345678。王芳祝您康复。"
    )


def test_an_international_number_goes_with_its_country_code_and_no_plus(gateway, fake):
    gateway.send(outgoing(to="+85291234567"))
    assert fake.sent[0]["PhoneNumbers"] == "85291234567"


def test_the_messages_signature_wins_over_the_gateways(gateway, fake):
    fake.signs.add("阳光诊所")
    gateway.send(outgoing(sign_name="阳光诊所"))
    assert fake.sent[0]["SignName"] == "阳光诊所"


def test_phone_formats():
    assert phone_for_alibaba("+8613800138000") == "13800138000"
    assert phone_for_alibaba("+14155550123") == "14155550123"
    assert phone_from_alibaba("13800138000") == "+8613800138000"
    assert phone_from_alibaba("85291234567") == "+85291234567"
    assert phone_from_alibaba("0085291234567") == "+85291234567"
    assert phone_from_alibaba("+8613800138000") == "+8613800138000"


def test_a_number_not_in_international_format_is_refused_before_calling(gateway, fake):
    error = refused(gateway, outgoing(to="13800138000"))
    assert not error.retryable and "international format" in str(error)
    assert fake.requests == 0 and fake.sent == []


# -- credentials ---------------------------------------------------------------------------


def test_the_clinic_reads_the_reason_in_its_language(gateway, fake):
    fake.templates["SMS_465300002"] = ("${name}您好", False)
    with translation.override("zh-hans"):
        error = refused(gateway, outgoing(template_code="SMS_465300002", params={"name": "王"}))
    assert str(error) == (
        "模板 SMS_465300002 未通过审核、不存在或不适用于此号码"
        "（isv.SMS_TEMPLATE_ILLEGAL: 该账号下找不到对应模板）"
    )


def test_a_wrong_secret_fails_the_signature_check_and_is_not_retried(fake):
    wrong = AliyunSms(key_id=fake.key_id, key_secret="not-it", sign_name=SIGN, endpoint=fake.base)
    error = refused(wrong)
    assert error.code == "SignatureDoesNotMatch"
    assert not error.retryable and not error.blocked
    assert "AccessKey" in str(error) and "SignatureDoesNotMatch" in str(error)
    assert fake.sent == []


def test_an_unknown_access_key_is_not_retried(fake):
    stranger = AliyunSms(
        key_id="LTAI5tNobody", key_secret=SECRET, sign_name=SIGN, endpoint=fake.base
    )
    error = refused(stranger)
    assert error.code == "InvalidAccessKeyId.NotFound" and not error.retryable
    assert fake.sent == []


def test_no_access_key_at_all_is_refused_without_looking_for_credentials_elsewhere(fake):
    empty = AliyunSms(key_id="", key_secret="", sign_name=SIGN, endpoint=fake.base)
    error = refused(empty)
    assert not error.retryable and "AccessKey" in str(error)
    assert fake.requests == 0


# -- what Alibaba enforces -----------------------------------------------------------------


def test_an_unapproved_template_is_refused_and_named(gateway, fake):
    fake.templates["SMS_465300002"] = ("${name}您好", False)
    error = refused(gateway, outgoing(template_code="SMS_465300002", params={"name": "王芳"}))
    assert error.code == "isv.SMS_TEMPLATE_ILLEGAL" and not error.retryable
    assert str(error).startswith("Template SMS_465300002 is not approved")
    assert fake.sent == []


def test_an_unknown_template_is_refused(gateway, fake):
    error = refused(gateway, outgoing(template_code="SMS_999"))
    assert error.code == "isv.SMS_TEMPLATE_ILLEGAL" and "SMS_999" in str(error)


def test_an_unregistered_signature_is_refused_and_named(gateway, fake):
    error = refused(gateway, outgoing(sign_name="无名诊所"))
    assert error.code == "isv.SMS_SIGNATURE_ILLEGAL" and not error.retryable
    assert "Signature 无名诊所 is not registered" in str(error)


def test_a_variable_too_long_is_refused(gateway, fake):
    params = {"name": "王" * 36, "date": "11月20日", "phone": "010-12345678"}
    error = refused(gateway, outgoing(params=params))
    assert error.code == "isv.PARAM_LENGTH_LIMIT" and not error.retryable
    assert f"variable of template {TEMPLATE} is too long" in str(error)
    assert fake.sent == []


def test_a_missing_variable_is_refused(gateway, fake):
    error = refused(gateway, outgoing(params={"name": "王芳"}))
    assert error.code == "isv.TEMPLATE_MISSING_PARAMETERS" and not error.retryable
    assert f"do not fit template {TEMPLATE}" in str(error)


def test_a_number_that_unsubscribed_is_blocked(gateway, fake):
    fake.refused.add("13800138000")
    error = refused(gateway)
    assert error.code == "isv.CUSTOMER_REFUSED" and error.blocked and not error.retryable


def test_an_invalid_number_is_refused(gateway, fake):
    error = refused(gateway, outgoing(to="+861012345"))
    assert error.code == "isv.MOBILE_NUMBER_ILLEGAL" and not error.retryable
    assert "1012345" not in str(error)


# -- each documented error, scripted -------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "code", "retryable", "blocked", "retry_after"),
    [
        ("Throttling.User", "Throttling.User", True, False, timedelta(minutes=1)),
        ("ServiceUnavailable", "ServiceUnavailable", True, False, None),
        (500, "InternalError", True, False, None),
        (503, "ServiceUnavailable", True, False, None),
        ("isp.SYSTEM_ERROR", "isp.SYSTEM_ERROR", True, False, None),
        (
            ("code", "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
            "isv.BUSINESS_LIMIT_CONTROL",
            True,
            False,
            timedelta(minutes=1),
        ),
        (
            ("code", "isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5"),
            "isv.BUSINESS_LIMIT_CONTROL",
            True,
            False,
            timedelta(hours=1),
        ),
        ("isv.AMOUNT_NOT_ENOUGH", "isv.AMOUNT_NOT_ENOUGH", True, False, timedelta(hours=1)),
        ("isv.OUT_OF_SERVICE", "isv.OUT_OF_SERVICE", True, False, timedelta(hours=1)),
        ("isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_NUMBER_ILLEGAL", False, False, None),
        ("isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", False, False, None),
        ("isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", False, False, None),
        ("isv.TEMPLATE_PARAMS_ILLEGAL", "isv.TEMPLATE_PARAMS_ILLEGAL", False, False, None),
        ("isv.PARAM_LENGTH_LIMIT", "isv.PARAM_LENGTH_LIMIT", False, False, None),
        ("isv.INVALID_JSON_PARAM", "isv.INVALID_JSON_PARAM", False, False, None),
        ("isv.BLACK_KEY_CONTROL_LIMIT", "isv.BLACK_KEY_CONTROL_LIMIT", False, False, None),
        ("isp.RAM_PERMISSION_DENY", "isp.RAM_PERMISSION_DENY", False, False, None),
        ("isv.CUSTOMER_REFUSED", "isv.CUSTOMER_REFUSED", False, True, None),
        (("code", "isv.SOMETHING_NEW", "新错误"), "isv.SOMETHING_NEW", False, False, None),
    ],
)
def test_each_error_is_classified(gateway, fake, step, code, retryable, blocked, retry_after):
    fake.script.append(step)
    error = refused(gateway)
    assert error.code == code
    assert (error.retryable, error.blocked, error.retry_after) == (retryable, blocked, retry_after)
    assert code in str(error)
    assert fake.sent == []
    # The script is used up: the next attempt goes through.
    assert gateway.send(outgoing()).provider_id == fake.sent[0]["biz_id"]


@pytest.mark.now("2026-11-20 21:30", tick=False)
def test_a_daily_limit_waits_until_midnight_in_beijing(gateway, fake):
    fake.script.append("isv.DAY_LIMIT_CONTROL")
    error = refused(gateway)
    assert error.retryable and error.retry_after == timedelta(hours=2, minutes=30)
    assert "daily sending limit" in str(error)

    fake.script.append(("code", "isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10"))
    error = refused(gateway)
    assert error.retryable and error.retry_after == timedelta(hours=2, minutes=30)
    assert "Too many messages to this number" in str(error)

    fake.script.append("isv.MONTH_LIMIT_CONTROL")
    error = refused(gateway)
    assert error.retry_after == at("2026-12-01 00:00") - clock.now()


def test_a_proxy_error_page_is_retried(gateway, fake):
    fake.script.append(("raw", 502, b"<html><body>502 Bad Gateway</body></html>"))
    error = refused(gateway)
    assert error.retryable and error.code == "network"


# -- the provider unreachable --------------------------------------------------------------


def test_provider_down_is_retryable_and_tells_no_patient_data(fake):
    fake.close()
    down = AliyunSms(key_id=fake.key_id, key_secret=SECRET, sign_name=SIGN, endpoint=fake.base)
    error = refused(down)
    assert error.retryable and error.code == "network"
    assert "connection refused" in str(error)
    for private in ("13800138000", "王芳", "010-12345678", "%E7%8E%8B"):
        assert private not in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_a_timeout_is_retryable(fake):
    slow = AliyunSms(
        key_id=fake.key_id, key_secret=SECRET, sign_name=SIGN, endpoint=fake.base, timeout=0.3
    )
    fake.script.append(("sleep", 1.0))
    error = refused(slow)
    assert error.retryable and "timed out" in str(error)


# -- templates -----------------------------------------------------------------------------


def test_template_variables_of_an_approved_template_in_order(gateway):
    assert gateway.template_variables(TEMPLATE) == ["name", "date", "phone"]


def test_template_variables_of_a_template_under_review(gateway, fake):
    fake.templates["SMS_2"] = ("${code}", "0")
    with pytest.raises(ProviderError) as caught:
        gateway.template_variables("SMS_2")
    assert str(caught.value) == "Template SMS_2 is still under review"
    assert not caught.value.retryable


def test_template_variables_of_a_rejected_template_says_why(gateway, fake):
    fake.templates["SMS_3"] = ("${code}", False, "变量属性与内容不符")
    with pytest.raises(ProviderError) as caught:
        gateway.template_variables("SMS_3")
    assert str(caught.value) == "Template SMS_3 was rejected: 变量属性与内容不符"
    assert not caught.value.retryable


def test_template_variables_of_an_unknown_template(gateway):
    with pytest.raises(ProviderError) as caught:
        gateway.template_variables("SMS_404")
    assert str(caught.value).startswith("Template SMS_404 is unknown to this Alibaba Cloud")
    assert "isv.SMS_TEMPLATE_ILLEGAL" in str(caught.value) and not caught.value.retryable


def test_template_variables_when_the_provider_is_down_is_retryable(fake):
    fake.close()
    down = AliyunSms(key_id=fake.key_id, key_secret=SECRET, sign_name=SIGN, endpoint=fake.base)
    with pytest.raises(ProviderError) as caught:
        down.template_variables(TEMPLATE)
    assert caught.value.retryable


# -- callbacks -----------------------------------------------------------------------------


def test_delivery_reports_parse(gateway, fake):
    first = gateway.send(outgoing(key="alpha-1")).provider_id
    second = gateway.send(outgoing(key="alpha-2")).provider_id
    body = fake.callback_body("status", first)
    delivered = gateway.callback_parse("status", body)
    failed = gateway.callback_parse(
        "status", fake.report_body(second, success=False, err_code="MK:0001", err_msg="用户停机")
    )

    assert delivered == [Receipt(provider_id=first, delivered=True, at=delivered[0].at)]
    assert delivered[0].at.utcoffset() == timedelta(hours=8)
    assert abs(delivered[0].at - clock.now()) < timedelta(seconds=5)
    assert failed[0].provider_id == second and not failed[0].delivered
    assert failed[0].error == "MK:0001: 用户停机"


def test_a_report_batch_holds_several_reports(gateway, fake):
    ids = [gateway.send(outgoing(key=f"alpha-{n}")).provider_id for n in range(3)]
    receipts = gateway.callback_parse("status", fake.report_body(*ids))
    assert [r.provider_id for r in receipts] == ids and all(r.delivered for r in receipts)


def test_replies_parse_with_e164_numbers_and_stable_ids(gateway, fake):
    body = fake.callback_body("inbound", ("13800138000", "好的，谢谢"), ("85291234567", "OK"))
    replies = gateway.callback_parse("inbound", body)

    assert [(r.from_number, r.body) for r in replies] == [
        ("+8613800138000", "好的，谢谢"),
        ("+85291234567", "OK"),
    ]
    assert all(isinstance(r, Reply) and r.at is not None for r in replies)
    assert replies[0].provider_id != replies[1].provider_id
    # The same push again (Alibaba re-pushes after 1, 5 and 10 minutes): the same ids.
    assert [r.provider_id for r in gateway.callback_parse("inbound", body)] == [
        r.provider_id for r in replies
    ]
    # The same words from the same number later are another reply.
    again = gateway.callback_parse("inbound", fake.up_body(("13800138000", "好的，谢谢")))
    assert again[0].provider_id != replies[0].provider_id


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("status", b"not json"),
        ("status", b"\xff\xfe"),
        ("status", b'{"biz_id": "1^0", "success": true}'),
        ("status", b"[1, 2]"),
        ("status", b'[{"success": true}]'),
        ("status", b'[{"biz_id": "1^0", "success": "true"}]'),
        ("inbound", b'[{"phone_number": "13800138000"}]'),
        ("inbound", b'[{"content": "hi"}]'),
        ("inbound", b'[{"phone_number": "", "content": "hi"}]'),
        ("other", b"[]"),
    ],
)
def test_a_body_not_of_alibabas_shape_is_a_value_error(gateway, kind, body):
    with pytest.raises(ValueError):
        gateway.callback_parse(kind, body)


def test_the_callback_answer_is_what_alibaba_expects(gateway):
    content_type, body = gateway.callback_ack()
    assert content_type == "application/json"
    assert json.loads(body) == {"code": 0, "msg": "成功"}


# -- pulls ---------------------------------------------------------------------------------


def _pending(fake, message) -> PendingReceipt:
    return PendingReceipt(
        provider_id=message["biz_id"], to="+86" + message["phone"], sent_at=message["at"]
    )


def test_receipts_pull_reports_delivered_and_failed_and_skips_waiting(gateway, fake):
    for n in range(3):
        gateway.send(outgoing(key=f"alpha-{n}"))
    delivered, failed, waiting = fake.sent
    fake.receipt(delivered["biz_id"])
    fake.receipt(failed["biz_id"], delivered=False, err_code="MK:0005")

    receipts = gateway.receipts_pull([_pending(fake, m) for m in fake.sent])

    assert [(r.provider_id, r.delivered, r.error) for r in receipts] == [
        (delivered["biz_id"], True, ""),
        (failed["biz_id"], False, "MK:0005"),
    ]
    assert receipts[0].at.utcoffset() == timedelta(hours=8)


def test_receipts_pull_keeps_what_it_got_when_the_provider_fails_midway(gateway, fake):
    for n in range(2):
        gateway.send(outgoing(key=f"alpha-{n}"))
    for message in fake.sent:
        fake.receipt(message["biz_id"])
    pending = [_pending(fake, m) for m in fake.sent]
    fake.script[:] = [None, "Throttling.User"]

    receipts = gateway.receipts_pull(pending)
    assert [r.provider_id for r in receipts] == [fake.sent[0]["biz_id"]]

    fake.script[:] = ["ServiceUnavailable"]
    with pytest.raises(ProviderError) as caught:
        gateway.receipts_pull(pending)
    assert caught.value.retryable


def test_replies_pull_is_empty_alibaba_only_pushes_replies(gateway):
    assert gateway.replies_pull() == []


# -- one clinic's key sees nothing of another's --------------------------------------------


def test_a_second_clinics_key_sees_nothing_of_the_first(gateway, fake):
    beta = fake.add_account("LTAI5tBetaTestKey02", "beta-secret", "阳光诊所")
    beta.templates["SMS_BETA"] = ("${name}您好", True)
    gateway.send(outgoing())
    [alpha_message] = fake.sent
    fake.receipt(alpha_message["biz_id"])
    beta_gateway = AliyunSms(
        key_id="LTAI5tBetaTestKey02",
        key_secret="beta-secret",
        sign_name="阳光诊所",
        endpoint=fake.base,
    )

    # Beta cannot see alpha's template, send with alpha's signature, or pull alpha's receipt.
    with pytest.raises(ProviderError):
        beta_gateway.template_variables(TEMPLATE)
    with pytest.raises(ProviderError) as caught:
        beta_gateway.send(outgoing(template_code="SMS_BETA", params={"name": "李"}, sign_name=SIGN))
    assert caught.value.code == "isv.SMS_SIGNATURE_ILLEGAL"
    assert beta_gateway.receipts_pull([_pending(fake, alpha_message)]) == []
    # Alpha's secret does not sign for beta's key.
    crossed = AliyunSms(
        key_id="LTAI5tBetaTestKey02", key_secret=SECRET, sign_name=SIGN, endpoint=fake.base
    )
    assert refused(crossed).code == "SignatureDoesNotMatch"
    # And nothing beta did touched alpha's account.
    assert fake.sent == [alpha_message] and beta.sent == []
    assert gateway.template_variables(TEMPLATE) == ["name", "date", "phone"]


# -- throughput ----------------------------------------------------------------------------


def test_two_thousand_sends_through_one_instance(gateway, fake, capsys):
    started = time.perf_counter()
    for n in range(2000):
        gateway.send(outgoing(key=f"alpha-{n}"))
    elapsed = time.perf_counter() - started
    assert len(fake.sent) == 2000
    assert len({m["biz_id"] for m in fake.sent}) == 2000
    with capsys.disabled():
        print(f"\n2,000 Alibaba Cloud sends through one AliyunSms: {elapsed:.2f} s")
    assert elapsed < 24  # 10,000 in well under 60 s

"""The Tencent Cloud SMS adapter against a local fake of Tencent's API (tests/fake_tencent.py),
through the real SDK: the fake checks the TC3-HMAC-SHA256 signature of every request, so a
wrong signing, a wrong key or a wrong date fails here as it would at Tencent."""

import hashlib
import json
import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.utils import translation

from crm.gateways import Outgoing, ProviderError, Receipt, Reply
from crm.gateways.tencent import ERRORS, TencentSms, error_kind
from tests.clock import at
from tests.fake_tencent import MESSAGES, FakeTencent, tc3_signature

SIGN = "仁心医院"
NUMBER = "+8613800138000"


@pytest.fixture(autouse=True)
def _in_english():
    """The reasons are checked in English (the product's default is zh-Hans)."""
    with translation.override("en"):
        yield


@pytest.fixture
def fake():
    fake = FakeTencent()
    fake.templates["1110"] = ("您好{1}，{2}的随访问卷已发出，回复TD退订", True)
    fake.templates["1111"] = ("请为本次就诊评分", True)
    fake.templates["2220"] = ("Dear {1}, please rate your visit: {2}", True, True)
    fake.templates["3330"] = ("未审核的模板{1}", False)
    yield fake
    fake.close()


def gateway(fake, **overrides) -> TencentSms:
    options = {
        "key_id": fake.secret_id,
        "key_secret": fake.secret_key,
        "sign_name": SIGN,
        "app_id": fake.app_id,
        "endpoint": fake.base,
    }
    return TencentSms(**{**options, **overrides})


@pytest.fixture
def sms(fake) -> TencentSms:
    return gateway(fake)


def outgoing(**overrides) -> Outgoing:
    options = {
        "to": NUMBER,
        "body": "",
        "key": "alpha-17",
        "template_code": "1110",
        "params": {"1": "张先生", "2": "骨科"},
        "sign_name": SIGN,
    }
    return Outgoing(**{**options, **overrides})


def refusal(sms, message) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        sms.send(message)
    return caught.value


# ---- sending


def test_a_send_arrives_with_the_number_sign_template_and_params(fake, sms):
    sent = sms.send(outgoing())

    assert len(fake.sent) == 1
    delivered = fake.sent[0]
    assert sent.provider_id == delivered["SerialNo"]
    assert sent.delivered is False  # a report comes later
    assert delivered["PhoneNumber"] == NUMBER
    assert delivered["SignName"] == SIGN
    assert delivered["TemplateId"] == "1110"
    assert delivered["TemplateParamSet"] == ["张先生", "骨科"]
    assert delivered["SessionContext"] == "alpha-17"  # our key, handed back in Tencent's logs
    assert delivered["SmsSdkAppId"] == fake.app_id
    assert delivered["text"] == "【仁心医院】您好张先生，骨科的随访问卷已发出，回复TD退订"


def test_parameters_go_in_their_numbered_order_whatever_the_dict_order(fake, sms):
    params = {str(n): f"v{n}" for n in (10, 2, 1, 3, 4, 5, 6, 7, 8, 9)}
    fake.templates["1200"] = ("".join(f"{{{n}}}" for n in range(1, 11)), True)

    sms.send(outgoing(template_code="1200", params=params))

    assert fake.sent[0]["TemplateParamSet"] == [f"v{n}" for n in range(1, 11)]


def test_a_template_without_variables_sends_no_parameters(fake, sms):
    sms.send(outgoing(template_code="1111", params={}))

    assert fake.sent[0]["TemplateParamSet"] == []


def test_the_gateways_signature_is_used_when_the_message_has_none(fake, sms):
    sms.send(outgoing(sign_name=""))

    assert fake.sent[0]["SignName"] == SIGN


def test_a_national_mainland_number_is_sent_in_e164(fake, sms):
    sms.send(outgoing(to="138 0013 8000"))

    assert fake.sent[0]["PhoneNumber"] == NUMBER


def test_an_international_number_goes_with_an_international_template(fake, sms):
    sms.send(outgoing(to="+85291234567", template_code="2220", params={"1": "Ms Li", "2": "x"}))

    assert fake.sent[0]["PhoneNumber"] == "+85291234567"


def test_a_domestic_template_to_an_international_number_fails_with_the_reason(fake, sms):
    error = refusal(sms, outgoing(to="+85291234567"))

    assert not error.retryable and not error.blocked
    assert error.code == "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"
    assert "Template 1110 cannot be sent to this number" in str(error)
    assert fake.sent == []


def test_a_wrong_secret_is_a_failing_signature_not_retried(fake):
    sms = gateway(fake, key_secret="not-the-secret")

    error = refusal(sms, outgoing())

    assert error.code == "AuthFailure.SignatureFailure"
    assert not error.retryable and not error.blocked
    assert str(error).startswith("Tencent Cloud did not accept the API key")
    assert "AuthFailure.SignatureFailure: The provided credentials could not be validated" in str(
        error
    )
    assert fake.sent == [] and fake.requests == []


def test_an_unknown_secret_id_says_so(fake):
    error = refusal(gateway(fake, key_id="AKIDnobody"), outgoing())

    assert error.code == "AuthFailure.SecretIdNotFound"
    assert not error.retryable
    assert fake.sent == []


def test_a_clock_off_by_more_than_five_minutes_is_refused_as_tencent_does(fake, sms):
    fake.skew = -600  # Tencent's clock ten minutes behind ours

    error = refusal(sms, outgoing())

    assert error.code == "AuthFailure.SignatureExpire"
    assert "clock is off by more than five minutes" in str(error)
    assert not error.retryable
    assert fake.sent == []


def test_an_application_id_of_another_account_is_refused(fake):
    fake.add_account("AKIDbeta", "beta-secret", "1400008888")

    error = refusal(gateway(fake, app_id="1400008888"), outgoing())

    assert error.code == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    assert "no usable SMS application 1400008888" in str(error)
    assert not error.retryable
    assert fake.sent == []


# ---- what Tencent enforces, and how each refusal is classified


@pytest.mark.parametrize(
    ("template", "params", "sign", "code", "text"),
    [
        (
            "3330",
            {"1": "x"},
            SIGN,
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "Template 3330 is not approved",
        ),
        (
            "9999",
            {"1": "x"},
            SIGN,
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "Template 9999 is not approved, does not exist",
        ),
        (
            "1110",
            {"1": "only one"},
            SIGN,
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "does not match the parameters sent",
        ),
        (
            "1110",
            {"1": "张先生", "2": "骨科"},
            "未注册医院",
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "The signature “未注册医院” is not approved",
        ),
        (
            "1110",
            {"1": "张" * 13, "2": "骨科"},
            SIGN,
            "InvalidParameterValue.TemplateParameterLengthLimit",
            "A variable is too long for template 1110",
        ),
    ],
)
def test_what_tencent_refuses_fails_now_with_its_reason(
    fake, sms, template, params, sign, code, text
):
    error = refusal(sms, outgoing(template_code=template, params=params, sign_name=sign))

    assert error.code == code
    assert not error.retryable and not error.blocked
    assert text in str(error)
    assert code in str(error)  # with Tencent's code and message, for the clinic's support
    assert fake.sent == []


def test_a_blacklisted_number_is_blocked(fake, sms):
    fake.blacklist.add(NUMBER)

    error = refusal(sms, outgoing())

    assert error.blocked and not error.retryable
    assert error.code == "FailedOperation.PhoneNumberInBlacklist"
    assert "do-not-disturb list" in str(error)
    assert fake.sent == []


@pytest.mark.now("2026-11-20 10:00", tick=False)
@pytest.mark.parametrize(
    ("code", "retryable", "blocked", "retry_after"),
    [
        # Per number (inside SendStatusSet).
        ("LimitExceeded.PhoneNumberDailyLimit", True, False, timedelta(hours=14, minutes=5)),
        ("LimitExceeded.PhoneNumberOneHourLimit", True, False, timedelta(hours=1)),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", True, False, timedelta(minutes=1)),
        ("LimitExceeded.DeliveryFrequencyLimit", True, False, timedelta(hours=1)),
        ("FailedOperation.PhoneNumberInBlacklist", False, True, None),
        ("InvalidParameterValue.IncorrectPhoneNumber", False, False, None),
        # For the request (Response.Error).
        ("RequestLimitExceeded", True, False, timedelta(minutes=1)),
        ("InternalError.Timeout", True, False, None),
        ("InternalError.SomethingAddedLater", True, False, None),
        ("LimitExceeded.AppDailyLimit", True, False, timedelta(hours=14, minutes=5)),
        ("FailedOperation.InsufficientBalanceInSmsPackage", True, False, timedelta(hours=1)),
        (
            "FailedOperation.MarketingSendTimeConstraint",
            True,
            False,
            timedelta(hours=22, minutes=5),
        ),
        ("InvalidParameterValue.TemplateParameterFormatError", False, False, None),
        ("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber", False, False, None),
        ("FailedOperation.ContainSensitiveWord", False, False, None),
        ("AuthFailure.SecretIdNotFound", False, False, None),
        ("FailedOperation.SomethingAddedLater", False, False, None),
    ],
)
def test_each_error_code_is_classified(fake, sms, code, retryable, blocked, retry_after):
    fake.script.append(code)

    error = refusal(sms, outgoing())

    assert (error.code, error.retryable, error.blocked) == (code, retryable, blocked)
    assert error.retry_after == retry_after
    assert code in str(error)
    assert fake.sent == []
    # The next message goes through: a scripted error is one answer, as at Tencent.
    assert sms.send(outgoing()).provider_id == fake.sent[0]["SerialNo"]


def test_the_table_covers_the_codes_the_brief_names():
    named = {
        "AuthFailure.SignatureFailure": (False, False),
        "AuthFailure.SecretIdNotFound": (False, False),
        "FailedOperation.TemplateIncorrectOrUnapproved": (False, False),
        "FailedOperation.SignatureIncorrectOrUnapproved": (False, False),
        "FailedOperation.PhoneNumberInBlacklist": (False, True),
        "LimitExceeded.PhoneNumberDailyLimit": (True, False),
        "LimitExceeded.PhoneNumberThirtySecondLimit": (True, False),
        "LimitExceeded.PhoneNumberOneHourLimit": (True, False),
        "InvalidParameterValue.TemplateParameterLengthLimit": (False, False),
        "InvalidParameterValue.TemplateParameterFormatError": (False, False),
        "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": (False, False),
        "RequestLimitExceeded": (True, False),
        "ClientNetworkError": (True, False),
        "ServerNetworkError": (True, False),
    }
    for code, (retryable, blocked) in named.items():
        assert code in ERRORS
        assert (error_kind(code).retryable, error_kind(code).blocked) == (retryable, blocked)


@pytest.mark.now("2026-11-20 23:30", tick=False)
def test_a_daily_limit_waits_for_midnight_in_beijing(fake, sms):
    fake.script.append("LimitExceeded.PhoneNumberDailyLimit")

    error = refusal(sms, outgoing())

    assert error.retry_after == timedelta(minutes=35)


def test_parameters_not_named_1_2_3_fail_before_any_request(fake, sms):
    error = refusal(sms, outgoing(params={"name": "张先生", "dept": "骨科"}))

    assert not error.retryable
    assert "variables are numbered 1, 2, 3" in str(error)
    assert "dept, name" in str(error)
    assert fake.requests == []


def test_a_message_without_template_or_with_a_bad_number_fails_before_any_request(fake, sms):
    assert not refusal(sms, outgoing(template_code="")).retryable
    error = refusal(sms, outgoing(to="not a number"))
    assert not error.retryable
    assert "not a number" not in str(error)  # the message text is shown; no patient data in it
    assert fake.requests == []


# ---- the provider down, slow or broken


def test_an_http_5xx_is_retried(fake, sms):
    fake.script.append(502)

    error = refusal(sms, outgoing())

    assert error.retryable and error.code == "ServerNetworkError"
    assert fake.sent == []


def test_a_timeout_is_retried(fake):
    sms = gateway(fake, timeout=0.3)
    fake.script.append(("sleep", 1.0))

    error = refusal(sms, outgoing())

    assert error.retryable and error.code == "ClientNetworkError"


def test_provider_down_connection_refused_is_retried(fake):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sms = gateway(fake, endpoint=f"http://127.0.0.1:{port}", timeout=2)

    error = refusal(sms, outgoing())

    assert error.retryable and not error.blocked
    assert error.code == "ClientNetworkError"
    assert "could not be reached" in str(error)
    for pull in (lambda: sms.receipts_pull([]), sms.replies_pull):
        with pytest.raises(ProviderError) as caught:
            pull()
        assert caught.value.retryable


def test_no_phone_number_or_message_text_in_the_logs(fake, sms, caplog):
    with caplog.at_level(logging.DEBUG):
        sms.send(outgoing())
        fake.script.append("LimitExceeded.PhoneNumberDailyLimit")
        refusal(sms, outgoing())

    assert "13800138000" not in caplog.text
    assert "张先生" not in caplog.text


# ---- templates


def test_template_variables_of_an_approved_template(sms):
    assert sms.template_variables("1110") == ["1", "2"]
    assert sms.template_variables("1111") == []


def test_template_variables_in_number_order_once_each(fake, sms):
    fake.templates["1300"] = ("{2}：{1}，再次提醒{1}", True)

    assert sms.template_variables("1300") == ["1", "2"]


def test_an_international_template_is_found_too(fake, sms):
    assert sms.template_variables("2220") == ["1", "2"]
    asked = [r["params"]["International"] for r in fake.requests]
    assert asked == [0, 1]


def test_an_unapproved_template_says_it_is_not_approved(sms):
    with pytest.raises(ProviderError) as caught:
        sms.template_variables("3330")

    assert not caught.value.retryable
    assert str(caught.value) == "Template 3330 is not approved: rejected (模板内容不符合规范)."


def test_an_unknown_template_says_it_does_not_exist(sms):
    with pytest.raises(ProviderError) as caught:
        sms.template_variables("4040")

    assert not caught.value.retryable
    assert caught.value.code == "FailedOperation.TemplateIdNotExist"
    assert "has no template 4040" in str(caught.value)


def test_a_template_code_that_is_not_a_number_is_refused_without_asking(fake, sms):
    with pytest.raises(ProviderError) as caught:
        sms.template_variables("SMS_123")

    assert not caught.value.retryable
    assert "“SMS_123” is not one" in str(caught.value)
    assert fake.requests == []


def test_template_variables_with_a_sub_account_key_says_why(fake, sms):
    fake.add_account("AKIDsub", "sub-secret", "1400009999")
    fake.sub_accounts.add("AKIDsub")
    sub = gateway(fake, key_id="AKIDsub", key_secret="sub-secret", app_id="1400009999")

    with pytest.raises(ProviderError) as caught:
        sub.template_variables("1110")

    assert not caught.value.retryable
    assert caught.value.code == "FailedOperation.ProhibitSubAccountUse"
    assert "only the main account" in str(caught.value)
    assert sms.template_variables("1110") == ["1", "2"]


def test_template_variables_with_a_wrong_secret(fake):
    with pytest.raises(ProviderError) as caught:
        gateway(fake, key_secret="nope").template_variables("1110")

    assert caught.value.code == "AuthFailure.SignatureFailure"
    assert not caught.value.retryable


# ---- callbacks


def test_a_status_callback_parses_into_receipts(sms):
    body = FakeTencent.callback_body(
        {"sid": "2645:1", "at": at("2026-11-20 10:00:05")},
        {"sid": "2645:2", "delivered": False, "errmsg": "MK:0001", "description": "空号"},
    )

    delivered, failed = sms.callback_parse("status", body)

    assert delivered == Receipt(
        provider_id="2645:1", delivered=True, error="", at=at("2026-11-20 10:00:05")
    )
    assert delivered.at == datetime(2026, 11, 20, 2, 0, 5, tzinfo=UTC)
    assert failed.provider_id == "2645:2" and not failed.delivered
    assert failed.error == "MK:0001: 空号"


def test_a_reply_callback_parses_into_a_reply_with_a_stable_id(sms):
    body = FakeTencent.reply_body("TD", at=at("2026-11-20 10:01"))

    (reply,) = sms.callback_parse("inbound", body)
    (again,) = sms.callback_parse("inbound", body)  # Tencent posts it again
    (other,) = sms.callback_parse("inbound", FakeTencent.reply_body("1", at=at("2026-11-20 10:01")))

    assert isinstance(reply, Reply)
    assert reply.from_number == NUMBER
    assert reply.body == "TD"
    assert reply.at == at("2026-11-20 10:01")
    assert reply.provider_id == again.provider_id
    assert reply.provider_id != other.provider_id


def test_a_reply_from_abroad_keeps_its_country_code(sms):
    (reply,) = sms.callback_parse(
        "inbound", FakeTencent.reply_body("yes", mobile="91234567", nationcode="852")
    )

    assert reply.from_number == "+85291234567"


def test_a_reply_by_callback_and_by_pull_has_one_id(fake, sms):
    moment = at("2026-11-20 10:01")
    fake.reply("TD", at=moment)

    (pulled,) = sms.replies_pull()
    (posted,) = sms.callback_parse("inbound", FakeTencent.reply_body("TD", at=moment))

    assert pulled == posted


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("status", b"not json"),
        ("status", b"\xff\xfe"),
        ("status", b'{"sid": "1", "report_status": "SUCCESS"}'),  # an object, not an array
        ("status", b'[{"report_status": "SUCCESS"}]'),
        ("status", b'[{"sid": "1", "report_status": "MAYBE"}]'),
        ("status", b'[{"sid": "1", "report_status": "SUCCESS", "user_receive_time": "soon"}]'),
        ("status", b"[1]"),
        ("inbound", b"[]"),
        ("inbound", b'{"mobile": "13800138000", "time": 1}'),
        ("inbound", b'{"mobile": "13800138000", "text": "TD", "time": "yesterday"}'),
        ("inbound", b'{"mobile": "", "text": "TD", "time": 1}'),
        ("elsewhere", b"[]"),
    ],
)
def test_a_callback_body_not_of_tencents_shape_is_a_value_error(sms, kind, body):
    with pytest.raises(ValueError):
        sms.callback_parse(kind, body)


def test_an_empty_status_callback_is_no_receipts(sms):
    assert sms.callback_parse("status", b"[]") == []


def test_the_callback_answer_is_tencents(sms):
    content_type, body = sms.callback_ack()

    assert content_type == "application/json"
    assert json.loads(body) == {"result": 0, "errmsg": "OK"}


# ---- pulls


def test_receipts_pull_hands_out_each_report_once(fake, sms):
    first = sms.send(outgoing()).provider_id
    second = sms.send(outgoing(key="alpha-18")).provider_id
    fake.receipt(first, at=at("2026-11-20 10:00:07"))
    fake.receipt(second, delivered=False, description="用户关机")

    receipts = sms.receipts_pull([])

    assert receipts[0] == Receipt(
        provider_id=first, delivered=True, error="", at=at("2026-11-20 10:00:07")
    )
    assert (receipts[1].provider_id, receipts[1].delivered) == (second, False)
    assert receipts[1].error == "用户关机"
    assert sms.receipts_pull([]) == []


def test_receipts_pull_takes_more_than_one_page(fake, sms):
    for n in range(250):
        fake.receipt(f"2645:{n}")

    receipts = sms.receipts_pull([])

    assert [r.provider_id for r in receipts] == [f"2645:{n}" for n in range(250)]
    pulls = [r for r in fake.requests if r["action"] == "PullSmsSendStatus"]
    assert len(pulls) == 3 and {p["params"]["Limit"] for p in pulls} == {100}


def test_replies_pull(fake, sms):
    fake.reply("TD", at=at("2026-11-20 10:01"))
    fake.reply("5", phone="+8613900139000")

    replies = sms.replies_pull()

    assert [(r.from_number, r.body) for r in replies] == [(NUMBER, "TD"), ("+8613900139000", "5")]
    assert replies[0].at == at("2026-11-20 10:01")
    assert sms.replies_pull() == []


def test_a_pull_with_a_wrong_secret_fails_clearly(fake):
    with pytest.raises(ProviderError) as caught:
        gateway(fake, key_secret="nope").receipts_pull([])

    assert caught.value.code == "AuthFailure.SignatureFailure"


# ---- two clinics


def test_a_second_clinic_cannot_see_or_use_the_first_ones_account(fake, sms):
    fake.add_account("AKIDbeta", "beta-secret", "1400008888")
    beta = gateway(fake, key_id="AKIDbeta", key_secret="beta-secret", app_id="1400008888")
    alpha_id = sms.send(outgoing()).provider_id
    fake.receipt(alpha_id)
    fake.reply("TD")

    # Beta's pulls see only beta's application.
    assert beta.receipts_pull([]) == []
    assert beta.replies_pull() == []
    # Beta's key cannot send through, or pull from, alpha's application.
    with pytest.raises(ProviderError) as caught:
        gateway(fake, key_id="AKIDbeta", key_secret="beta-secret").receipts_pull([])
    assert caught.value.code == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    error = refusal(gateway(fake, key_id="AKIDbeta", key_secret="beta-secret"), outgoing())
    assert error.code == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    # Alpha's reports and replies are still there for alpha.
    assert [r.provider_id for r in sms.receipts_pull([])] == [alpha_id]
    assert [r.body for r in sms.replies_pull()] == ["TD"]
    assert len(fake.sent) == 1


# ---- the clinic's language


def test_the_reason_is_in_the_clinics_language(fake):
    fake.script.append("FailedOperation.PhoneNumberInBlacklist")
    with translation.override("zh-hans"):
        sms = gateway(fake)
        error = refusal(sms, outgoing())

    assert "免打扰" in str(error)
    assert "FailedOperation.PhoneNumberInBlacklist" in str(error)


# ---- speed


def test_two_thousand_sends_through_one_instance(fake, sms):
    started = time.perf_counter()
    for n in range(2000):
        sms.send(outgoing(key=f"alpha-{n}"))
    elapsed = time.perf_counter() - started

    print(f"\n2,000 Tencent sends through one adapter instance: {elapsed:.2f} s")
    assert len(fake.sent) == 2000
    assert len({m["SerialNo"] for m in fake.sent}) == 2000
    # The outbox's budget is 10,000 messages in 60 s; the adapter may use a fraction of it.
    assert elapsed < 24


# ---- the fake itself: it checks what Tencent checks


def _signed_post(fake, body: bytes, *, signed_body: bytes | None = None, date: str | None = None):
    """A request signed by hand as TC3-HMAC-SHA256 prescribes, optionally over another body or
    with another scope date, to show the fake refuses what Tencent would."""
    timestamp = int(time.time())
    day = date or datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    host = fake.base.removeprefix("http://")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:application/json\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(signed_body if signed_body is not None else body).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            f"{day}/sms/tc3_request",
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    signature = tc3_signature(fake.secret_key, day, "sms", string_to_sign)
    headers = {
        "Content-Type": "application/json",
        "Host": host,
        "X-TC-Action": "PullSmsReplyStatus",
        "X-TC-Version": "2021-01-11",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Timestamp": str(timestamp),
        "Authorization": f"TC3-HMAC-SHA256 Credential={fake.secret_id}/{day}/sms/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}",
    }
    return requests.post(fake.base + "/", data=body, headers=headers, timeout=5).json()


def test_the_fake_accepts_a_request_signed_by_the_rules(fake):
    body = json.dumps({"Limit": 10, "SmsSdkAppId": fake.app_id}).encode()

    answer = _signed_post(fake, body)

    assert answer["Response"]["PullSmsReplyStatusSet"] == []
    assert answer["Response"]["RequestId"]


@pytest.mark.parametrize("tamper", ["body", "date"])
def test_the_fake_refuses_a_body_changed_after_signing_or_a_wrong_scope_date(fake, tamper):
    body = json.dumps({"Limit": 10, "SmsSdkAppId": fake.app_id}).encode()
    if tamper == "body":
        answer = _signed_post(fake, body, signed_body=body.replace(b"10", b"99"))
    else:
        answer = _signed_post(fake, body, date="2001-01-01")

    assert answer["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"


def test_a_phone_number_in_tencents_reason_is_not_passed_on(fake, sms, monkeypatch):
    monkeypatch.setitem(
        MESSAGES, "InvalidParameterValue.IncorrectPhoneNumber", "incorrect number +8613800138000"
    )
    fake.script.append("InvalidParameterValue.IncorrectPhoneNumber")

    error = refusal(sms, outgoing())

    assert "13800138000" not in str(error)
    assert "incorrect number …" in str(error)

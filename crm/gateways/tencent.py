"""Tencent Cloud SMS (腾讯云短信), API version 2021-01-11, through Tencent's own SDK
(``tencentcloud-sdk-python-sms``), which signs every request with TC3-HMAC-SHA256.

* A message goes out as an approved template (``TemplateId``) with positional parameters
  (``{1}``, ``{2}``… in the template, ``TemplateParamSet`` in the request) under a registered
  signature (``SignName``), from the clinic's SMS application (``SmsSdkAppId``). Our
  ``Outgoing.key`` travels as ``SessionContext``: Tencent hands it back unchanged, which ties
  a message in Tencent's console to ours.
* SendSms answers per number: a request for one number can succeed as a request and still
  carry the refusal in ``SendStatusSet[0].Code`` (anything but "Ok"). Both kinds of error
  go through one table, ``ERRORS``, checkable against Tencent's error-code page
  (https://cloud.tencent.com/document/api/382/59177, and the common codes of
  https://cloud.tencent.com/document/api/382/52075).
* Delivery reports and replies arrive by callback (unsigned JSON: the callback URL's secret
  token is what authenticates them) or by the pull APIs, which hand each report or reply of
  the application out once.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.translation import get_language, gettext, gettext_lazy, pgettext_lazy
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from saas import clock

from ..phones import phone_normalise
from . import Outgoing, PendingReceipt, ProviderError, Receipt, Reply, Sent

# The SDK logs every request and answer in full at DEBUG (phone numbers, the variables of a
# message): those stay out of our logs even when LOG_LEVEL=DEBUG.
logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)

DEFAULT_REGION = "ap-guangzhou"
# Tencent counts its daily limits in Beijing time: a number over its daily limit can be
# sent to again after midnight there.
BEIJING = ZoneInfo("Asia/Shanghai")
# The pull APIs return at most 100 items a call; a pull stops after this many calls so that
# one periodic task stays short (what is left comes with the next run).
PULL_LIMIT = 100
PULL_CALLS_MAX = 20
# DescribeTemplateListStatus.StatusCode: only 0 can be sent.
TEMPLATE_STATUS = {
    0: pgettext_lazy("SMS template", "approved"),
    1: pgettext_lazy("SMS template", "under review"),
    2: pgettext_lazy("SMS template", "approved, not yet in effect"),
    -1: pgettext_lazy("SMS template", "rejected"),
}
_VARIABLE = re.compile(r"\{(\d+)\}")
_DIGITS = re.compile(r"\+?\d{7,}")


@dataclass(frozen=True)
class _Kind:
    """What an error code means for the message: the text the clinic reads in the Outbox
    (placeholders: template, sign, app_id), and whether and when to try again."""

    text: str
    retryable: bool = False
    blocked: bool = False
    wait: timedelta | str | None = None  # a delay, or "midnight" / "morning" in Beijing


CREDENTIALS = _Kind(
    gettext_lazy(
        "Tencent Cloud did not accept the API key (SecretId / SecretKey): check it in Settings."
    )
)
CLOCK = _Kind(
    gettext_lazy(
        "Tencent Cloud refused the request's timestamp: this server's clock is off by more "
        "than five minutes."
    )
)
APPLICATION = _Kind(
    gettext_lazy(
        "Tencent Cloud has no usable SMS application %(app_id)s for this API key "
        "(SmsSdkAppId): check it in Settings."
    )
)
PERMISSION = _Kind(
    gettext_lazy(
        "Tencent Cloud refused the request for this account (permissions, IP allow-list or "
        "account type)."
    )
)
TEMPLATE_LIST = _Kind(
    gettext_lazy(
        "Tencent Cloud lets only the main account of an enterprise-verified account read "
        "templates through its API: use that account's API key."
    )
)
TEMPLATE = _Kind(
    gettext_lazy(
        "Template %(template)s is not approved, does not exist, or does not match the "
        "parameters sent."
    )
)
TEMPLATE_REGION = _Kind(
    gettext_lazy(
        "Template %(template)s cannot be sent to this number: mainland China numbers need a "
        "domestic template, other numbers an international one."
    )
)
SIGN = _Kind(
    gettext_lazy("The signature “%(sign)s” is not approved or not registered with Tencent Cloud.")
)
PARAMETER_LENGTH = _Kind(gettext_lazy("A variable is too long for template %(template)s."))
PARAMETER_FORMAT = _Kind(
    gettext_lazy(
        "A variable has the wrong format for template %(template)s (a verification-code "
        "template takes 0 to 6 digits)."
    )
)
CONTENT = _Kind(
    gettext_lazy(
        "Tencent Cloud refused the content (a sensitive word, a link in a variable, or a "
        "message too long)."
    )
)
NUMBER = _Kind(gettext_lazy("Tencent Cloud does not accept this phone number."))
BLOCKED = _Kind(
    gettext_lazy(
        "The number is on Tencent Cloud's do-not-disturb list (the patient unsubscribed, or "
        "the carrier blocks it)."
    ),
    blocked=True,
)
REQUEST = _Kind(gettext_lazy("Tencent Cloud could not read the request."))
REFUSED = _Kind(gettext_lazy("Tencent Cloud refused the message."))
NUMBER_LIMIT_SHORT = _Kind(
    gettext_lazy("This number reached Tencent Cloud's limit per 30 seconds: sent again later."),
    retryable=True,
    wait=timedelta(minutes=1),
)
NUMBER_LIMIT_HOUR = _Kind(
    gettext_lazy("This number reached Tencent Cloud's hourly limit: sent again in an hour."),
    retryable=True,
    wait=timedelta(hours=1),
)
NUMBER_LIMIT_DAY = _Kind(
    gettext_lazy("This number reached Tencent Cloud's daily limit: sent again tomorrow."),
    retryable=True,
    wait="midnight",
)
ACCOUNT_LIMIT_DAY = _Kind(
    gettext_lazy(
        "The clinic's Tencent Cloud SMS application reached its daily limit: sent again tomorrow."
    ),
    retryable=True,
    wait="midnight",
)
FREQUENCY = _Kind(
    gettext_lazy(
        "A frequency limit of the clinic's Tencent Cloud SMS application was hit: sent again later."
    ),
    retryable=True,
    wait=timedelta(hours=1),
)
MARKETING_HOURS = _Kind(
    gettext_lazy(
        "Tencent Cloud sends marketing SMS only from 8:00 to 22:00 Beijing time: sent again "
        "in the morning."
    ),
    retryable=True,
    wait="morning",
)
BALANCE = _Kind(
    gettext_lazy(
        "The clinic's Tencent Cloud SMS package is used up or the account is in arrears: "
        "sent again later."
    ),
    retryable=True,
    wait=timedelta(hours=1),
)
THROTTLED = _Kind(
    gettext_lazy("Tencent Cloud is throttling requests: sent again shortly."),
    retryable=True,
    wait=timedelta(minutes=1),
)
UNAVAILABLE = _Kind(
    gettext_lazy("Tencent Cloud could not be reached or failed: sent again later."),
    retryable=True,
)

# Every code Tencent documents for the calls we make (SendSms, DescribeSmsTemplateList,
# PullSmsSendStatus, PullSmsReplyStatus), plus the SDK's own two for the transport
# (ClientNetworkError: no answer, a refused connection or a timeout; ServerNetworkError: an
# HTTP status other than 200). A code not listed is classified by its prefix (_PREFIXES).
ERRORS: dict[str, _Kind] = {
    # The SDK's transport.
    "ClientNetworkError": UNAVAILABLE,
    "ServerNetworkError": UNAVAILABLE,
    # An answer the SDK could not read (a proxy's error page with status 200).
    "JSONDecodeError": UNAVAILABLE,
    # Common codes (API 3.0).
    "AuthFailure.SignatureFailure": CREDENTIALS,
    "AuthFailure.SecretIdNotFound": CREDENTIALS,
    "AuthFailure.InvalidSecretId": CREDENTIALS,
    "AuthFailure.InvalidAuthorization": CREDENTIALS,
    "AuthFailure.TokenFailure": CREDENTIALS,
    "AuthFailure.MFAFailure": CREDENTIALS,
    "AuthFailure.SignatureExpire": CLOCK,
    "AuthFailure.UnauthorizedOperation": PERMISSION,
    "UnauthorizedOperation": PERMISSION,
    "IpInBlacklist": PERMISSION,
    "IpNotInWhitelist": PERMISSION,
    "RequestLimitExceeded": THROTTLED,
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded": THROTTLED,
    "RequestLimitExceeded.IPLimitExceeded": THROTTLED,
    "RequestLimitExceeded.UinLimitExceeded": THROTTLED,
    "InternalError": UNAVAILABLE,
    "ResourceUnavailable": UNAVAILABLE,
    "InvalidParameter": REQUEST,
    "InvalidParameterValue": REQUEST,
    "MissingParameter": REQUEST,
    "UnsupportedOperation": REQUEST,
    "InvalidAction": REQUEST,
    "NoSuchVersion": REQUEST,
    "UnsupportedRegion": REQUEST,
    # SMS: the template.
    "FailedOperation.TemplateIncorrectOrUnapproved": TEMPLATE,
    "FailedOperation.TemplateUnapprovedOrNotExist": TEMPLATE,
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": TEMPLATE,
    "FailedOperation.TemplateIdNotExist": TEMPLATE,
    "FailedOperation.MissingTemplateList": TEMPLATE,
    "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": TEMPLATE_REGION,
    "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone": TEMPLATE_REGION,
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": TEMPLATE_REGION,
    "UnsupportedOperation.ContainDomesticPhoneNumber": TEMPLATE_REGION,
    "UnsupportedOperation.UnsupportedRegion": NUMBER,
    "FailedOperation.ProhibitSubAccountUse": TEMPLATE_LIST,
    "FailedOperation.NotEnterpriseCertification": TEMPLATE_LIST,
    # SMS: the signature.
    "FailedOperation.SignatureIncorrectOrUnapproved": SIGN,
    "FailedOperation.MissingSignatureList": SIGN,
    "FailedOperation.MissingSignature": SIGN,
    # SMS: the variables and the content.
    "InvalidParameterValue.TemplateParameterLengthLimit": PARAMETER_LENGTH,
    "InvalidParameterValue.TemplateParameterFormatError": PARAMETER_FORMAT,
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": CONTENT,
    "InvalidParameterValue.ContentLengthLimit": CONTENT,
    "FailedOperation.ContainSensitiveWord": CONTENT,
    "InvalidParameter.DirtyWordFound": CONTENT,
    # SMS: the number.
    "InvalidParameterValue.IncorrectPhoneNumber": NUMBER,
    "FailedOperation.PhoneNumberParseFail": NUMBER,
    "LimitExceeded.AppCountryOrRegionInBlacklist": NUMBER,
    "FailedOperation.PhoneNumberInBlacklist": BLOCKED,
    # SMS: the application and the account.
    "InvalidParameterValue.SdkAppIdNotExist": APPLICATION,
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": APPLICATION,
    "UnauthorizedOperation.SdkAppIdIsDisabled": APPLICATION,
    "InvalidParameter.AppidAndBizId": APPLICATION,
    "UnauthorizedOperation.RequestIpNotInWhitelist": PERMISSION,
    "UnauthorizedOperation.RequestPermissionDeny": PERMISSION,
    "UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny": PERMISSION,
    "FailedOperation.InsufficientBalanceInSmsPackage": BALANCE,
    "UnauthorizedOperation.ServiceSuspendDueToArrears": BALANCE,
    # SMS: frequency limits per number (the console's 频率限制 policy) and per application.
    "LimitExceeded.PhoneNumberThirtySecondLimit": NUMBER_LIMIT_SHORT,
    "LimitExceeded.PhoneNumberOneHourLimit": NUMBER_LIMIT_HOUR,
    "LimitExceeded.PhoneNumberDailyLimit": NUMBER_LIMIT_DAY,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": NUMBER_LIMIT_DAY,
    "LimitExceeded.DeliveryFrequencyLimit": FREQUENCY,
    "LimitExceeded.AppDailyLimit": ACCOUNT_LIMIT_DAY,
    "LimitExceeded.AppMainlandChinaDailyLimit": ACCOUNT_LIMIT_DAY,
    "LimitExceeded.AppGlobalDailyLimit": ACCOUNT_LIMIT_DAY,
    "LimitExceeded.AppCountryOrRegionDailyLimit": ACCOUNT_LIMIT_DAY,
    "LimitExceeded.DailyLimit": ACCOUNT_LIMIT_DAY,
    "LimitExceeded.GlobalSmsSendingRateLimit": THROTTLED,
    "FailedOperation.MarketingSendTimeConstraint": MARKETING_HOURS,
    # SMS: Tencent's side (its timeouts towards the carriers are worth a retry; a malformed
    # request of ours is not).
    "InternalError.Timeout": UNAVAILABLE,
    "InternalError.SendAndRecvFail": UNAVAILABLE,
    "InternalError.OtherError": UNAVAILABLE,
    "InternalError.UnknownError": UNAVAILABLE,
    "InternalError.ParseBackendResponseFail": UNAVAILABLE,
    "InternalError.RequestTimeException": CLOCK,
    "InternalError.JsonParseFail": REQUEST,
    "InternalError.SigVerificationFail": CREDENTIALS,
    "InternalError.SigFieldMissing": CREDENTIALS,
    "InternalError.RestApiInterfaceNotExist": REQUEST,
    "FailedOperation.JsonParseFail": REQUEST,
    "FailedOperation.FailResolvePacket": REQUEST,
    "FailedOperation.OtherError": REFUSED,
    "FailedOperation.ParametersOtherError": REFUSED,
    "LimitExceeded.PhoneNumberCountLimit": REQUEST,
    "MissingParameter.EmptyPhoneNumberSet": REQUEST,
}
# Codes Tencent adds later fall under their family: its own failures and throttling are
# worth a retry, a limit is retried in an hour, the rest fails with Tencent's reason.
_PREFIXES: dict[str, _Kind] = {
    "InternalError.": UNAVAILABLE,
    "RequestLimitExceeded.": THROTTLED,
    "LimitExceeded.": FREQUENCY,
    "ResourceUnavailable.": UNAVAILABLE,
    "AuthFailure.": CREDENTIALS,
}


def error_kind(code: str) -> _Kind:
    if code in ERRORS:
        return ERRORS[code]
    for prefix, kind in _PREFIXES.items():
        if code.startswith(prefix):
            return kind
    return REFUSED


def _until(hour: int, now: datetime) -> timedelta:
    """From ``now`` to the next ``hour``:00 in Beijing, plus a few minutes of margin for the
    provider's clock."""
    local = now.astimezone(BEIJING)
    target = local.replace(hour=hour, minute=5, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target - local


class TencentSms:
    name = "tencent"
    templated = True

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        sign_name: str,
        app_id: str = "",
        region: str = "",
        endpoint: str = "",
        timeout: float = 10.0,
    ):
        self.sign_name = sign_name
        self.app_id = app_id
        http = HttpProfile(reqTimeout=timeout, keepAlive=True)
        if endpoint:
            # "http://127.0.0.1:8123" (a test's fake) or a host name, https by default.
            parts = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
            http.endpoint = parts.netloc
            http.protocol = http.scheme = parts.scheme or "https"
        profile = ClientProfile(
            httpProfile=http,
            # Tencent's reasons in the clinic's language, as far as it has them.
            language="zh-CN" if (get_language() or "").startswith("zh") else "en-US",
        )
        # One client per instance: its requests session keeps the connection alive for a
        # worker's batch of messages.
        self.client = sms_client.SmsClient(
            credential.Credential(key_id, key_secret), region or DEFAULT_REGION, profile
        )

    # ---- errors

    def _error(self, code: str, message: str, *, template: str = "", sign: str = ""):
        kind = error_kind(code)
        text = str(kind.text) % {"template": template, "sign": sign, "app_id": self.app_id}
        # Tencent's reason goes into the Outbox as it is, less anything like a phone number.
        detail = _DIGITS.sub("…", " ".join(str(message or "").split()))[:300]
        retry_after = kind.wait
        if isinstance(retry_after, str):
            retry_after = _until(0 if retry_after == "midnight" else 8, clock.now())
        return ProviderError(
            f"{text} ({code}: {detail})" if detail else f"{text} ({code})",
            retryable=kind.retryable,
            blocked=kind.blocked,
            retry_after=retry_after,
            code=code,
        )

    def _call(self, method, request, **context):
        try:
            return method(request)
        except TencentCloudSDKException as exc:
            raise self._error(str(exc.code or ""), str(exc.message or ""), **context) from exc

    # ---- sending

    def send(self, outgoing: Outgoing) -> Sent:
        template = (outgoing.template_code or "").strip()
        sign = outgoing.sign_name or self.sign_name
        if not template:
            raise ProviderError(
                gettext("No Tencent Cloud template is set for this message."), retryable=False
            )
        try:
            number = phone_normalise(outgoing.to, "CN")
        except ValidationError as exc:
            raise ProviderError(
                gettext("Not a phone number Tencent Cloud can send to."), retryable=False
            ) from exc
        request = models.SendSmsRequest()
        # E.164 for every number: Tencent reads mainland numbers and international ones in it
        # (one request may not mix the two).
        request.PhoneNumberSet = [number]
        request.SmsSdkAppId = self.app_id
        request.TemplateId = template
        if sign:
            request.SignName = sign
        request.TemplateParamSet = self._positional(outgoing.params, template)
        request.SessionContext = outgoing.key
        response = self._call(self.client.SendSms, request, template=template, sign=sign)
        statuses = response.SendStatusSet or []
        if not statuses:
            raise ProviderError(
                gettext("Tencent Cloud answered without a result for the number."),
                retryable=True,
            )
        status = statuses[0]
        if status.Code != "Ok":
            raise self._error(status.Code or "", status.Message or "", template=template, sign=sign)
        return Sent(provider_id=status.SerialNo)

    @staticmethod
    def _positional(params: dict[str, str], template: str) -> list[str]:
        """{"1": a, "2": b} → [a, b]: Tencent's variables are numbered, and the parameters
        are sent in their order."""
        if sorted(params, key=lambda name: (len(name), name)) != [
            str(n) for n in range(1, len(params) + 1)
        ]:
            raise ProviderError(
                gettext(
                    "Template %(template)s: Tencent Cloud's variables are numbered 1, 2, 3…; "
                    "the message has %(names)s."
                )
                % {"template": template, "names": ", ".join(sorted(params)) or "-"},
                retryable=False,
            )
        return [str(params[str(n)]) for n in range(1, len(params) + 1)]

    # ---- templates

    def template_variables(self, code: str) -> list[str]:
        code = (code or "").strip()
        if not code.isascii() or not code.isdigit():
            raise ProviderError(
                gettext("Tencent Cloud template IDs are numbers; “%(code)s” is not one.")
                % {"code": code},
                retryable=False,
                code="InvalidParameterValue",
            )
        # A template is domestic or international, and the API lists one kind per call.
        for international in (0, 1):
            request = models.DescribeSmsTemplateListRequest()
            request.International = international
            request.TemplateIdSet = [int(code)]
            try:
                response = self.client.DescribeSmsTemplateList(request)
            except TencentCloudSDKException as exc:
                if exc.code == "FailedOperation.TemplateIdNotExist":
                    continue  # not of this kind: try the other
                raise self._error(
                    str(exc.code or ""), str(exc.message or ""), template=code
                ) from exc
            for status in response.DescribeTemplateStatusSet or []:
                if str(status.TemplateId) != code:
                    continue
                if status.StatusCode != 0:
                    reason = " ".join((status.ReviewReply or "").split())
                    raise ProviderError(
                        gettext("Template %(code)s is not approved: %(status)s%(reason)s.")
                        % {
                            "code": code,
                            "status": TEMPLATE_STATUS.get(status.StatusCode, status.StatusCode),
                            "reason": f" ({reason})" if reason else "",
                        },
                        retryable=False,
                        code="FailedOperation.TemplateUnapprovedOrNotExist",
                    )
                numbers = {int(n) for n in _VARIABLE.findall(status.TemplateContent or "")}
                return [str(n) for n in sorted(numbers)]
        raise ProviderError(
            gettext("Tencent Cloud has no template %(code)s (domestic or international).")
            % {"code": code},
            retryable=False,
            code="FailedOperation.TemplateIdNotExist",
        )

    # ---- delivery reports and replies

    def receipts_pull(self, pending: list[PendingReceipt]) -> list[Receipt]:
        """Every delivery report of the application not pulled before (Tencent hands each out
        once, whichever message it is about), so ``pending`` is not needed. Tencent fills the
        pull only when it is switched on in the console, and not for reports it delivered by
        callback."""
        receipts = []
        for _call in range(PULL_CALLS_MAX):
            request = models.PullSmsSendStatusRequest()
            request.Limit = PULL_LIMIT
            request.SmsSdkAppId = self.app_id
            batch = self._call(self.client.PullSmsSendStatus, request).PullSmsSendStatusSet or []
            for status in batch:
                delivered = status.ReportStatus == "SUCCESS"
                receipts.append(
                    Receipt(
                        provider_id=status.SerialNo,
                        delivered=delivered,
                        error="" if delivered else (status.Description or "FAIL"),
                        at=_from_epoch(status.UserReceiveTime),
                    )
                )
            if len(batch) < PULL_LIMIT:
                break
        return receipts

    def replies_pull(self) -> list[Reply]:
        replies = []
        for _call in range(PULL_CALLS_MAX):
            request = models.PullSmsReplyStatusRequest()
            request.Limit = PULL_LIMIT
            request.SmsSdkAppId = self.app_id
            batch = self._call(self.client.PullSmsReplyStatus, request).PullSmsReplyStatusSet or []
            for item in batch:
                number = item.PhoneNumber or _e164(item.CountryCode, item.SubscriberNumber)
                replies.append(
                    _reply(
                        number,
                        item.ReplyContent or "",
                        item.ReplyTime,
                        item.SignName or "",
                        item.ExtendCode or "",
                    )
                )
            if len(batch) < PULL_LIMIT:
                break
        return replies

    def callback_parse(self, kind: str, body: bytes) -> list[Receipt | Reply]:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if kind == "status":
            return _receipts(data)
        if kind == "inbound":
            return [_inbound(data)]
        raise ValueError(f"unknown callback kind {kind!r}")

    def callback_ack(self) -> tuple[str, bytes]:
        return "application/json", b'{"result":0,"errmsg":"OK"}'


def _receipts(data) -> list[Receipt]:
    """A status callback: a JSON array, one report per element (several may come at once)."""
    if not isinstance(data, list):
        raise ValueError("a status callback is a JSON array")
    receipts = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("sid"), str) or not item["sid"]:
            raise ValueError("a delivery report without sid")
        status = item.get("report_status")
        if status not in ("SUCCESS", "FAIL"):
            raise ValueError(f"report_status {status!r} is neither SUCCESS nor FAIL")
        error = ""
        if status == "FAIL":
            error = ": ".join(
                str(item[name]) for name in ("errmsg", "description") if item.get(name)
            )
        receipts.append(
            Receipt(
                provider_id=item["sid"],
                delivered=status == "SUCCESS",
                error=error or ("" if status == "SUCCESS" else "FAIL"),
                at=_from_beijing(item.get("user_receive_time")),
            )
        )
    return receipts


def _inbound(data) -> Reply:
    """A reply callback: one JSON object per reply, with no id of its own."""
    if not isinstance(data, dict):
        raise ValueError("a reply callback is a JSON object")
    for name in ("mobile", "text", "time"):
        if name not in data:
            raise ValueError(f"a reply without {name}")
    if not isinstance(data["text"], str) or not str(data["mobile"]).strip():
        raise ValueError("a reply's mobile and text are strings")
    try:
        sent_at = int(data["time"])
    except (TypeError, ValueError) as exc:
        raise ValueError("a reply's time is a UNIX timestamp") from exc
    number = _e164(str(data.get("nationcode") or "86"), str(data["mobile"]))
    return _reply(
        number, data["text"], sent_at, str(data.get("sign") or ""), str(data.get("extend") or "")
    )


def _reply(number: str, text: str, at, sign: str, extend: str) -> Reply:
    # Tencent gives a reply no id: its fields make one, the same whether it came by callback
    # or by pull, so that a redelivery is recognised.
    at_epoch = int(at or 0)
    digest = hashlib.sha256(
        "\n".join(("tencent", number, str(at_epoch), sign, extend, text)).encode()
    ).hexdigest()
    return Reply(
        provider_id=f"reply-{digest[:40]}",
        from_number=number,
        body=text,
        at=_from_epoch(at_epoch),
    )


def _e164(country_code: str | None, number: str | None) -> str:
    digits = (number or "").strip()
    if digits.startswith("+"):
        return digits
    return f"+{(country_code or '86').lstrip('+')}{digits}"


def _from_epoch(seconds) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), UTC) if seconds else None


def _from_beijing(text) -> datetime | None:
    """The callbacks' "2015-10-17 08:03:04" is Beijing time."""
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError as exc:
        raise ValueError(f"user_receive_time {text!r} is not a time") from exc

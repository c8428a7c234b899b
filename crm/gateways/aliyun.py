"""Alibaba Cloud SMS (阿里云短信, Dysmsapi 2017-05-25) through the vendor's SDK
(``alibabacloud-dysmsapi20170525``), which signs every request with ACS3-HMAC-SHA256.

* ``send``: SendSms with one number, an approved template (TemplateCode), a registered
  signature (SignName), the template's variables as a JSON object (TemplateParam) and our
  key as OutId (it comes back in delivery reports). Alibaba has no idempotency key: a retry
  after a timeout may send twice, which the outbox accepts for a follow-up reminder.
* ``template_variables``: GetSmsTemplate (QuerySmsTemplate is retired), ``${name}``
  variables in order.
* ``receipts_pull``: QuerySendDetails by number, day and BizId.
* ``callback_parse``: the HTTP batch-push bodies, SmsReport (delivery reports) and SmsUp
  (replies); both are answered with ``callback_ack``.
* Replies are only pushed (or delivered through an MNS queue, which we do not use), so
  ``replies_pull`` returns nothing.

Errors: the SDK raises for an HTTP error status (signature, access key, throttling, 5xx) and
returns business refusals (``isv.*``) in the body of an HTTP 200; both end in ``_CODES``,
the one table of what each documented code means for the outbox."""

import hashlib
import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from Tea.exceptions import TeaException

from saas import clock

from . import Outgoing, PendingReceipt, ProviderError, Receipt, Reply, Sent

# Alibaba's wall times (send_time, report_time, ReceiveDate) are Beijing time, without zone.
BEIJING = ZoneInfo("Asia/Shanghai")
WALL_TIME = "%Y-%m-%d %H:%M:%S"
DEFAULT_REGION = "cn-hangzhou"  # the SDK maps it to the public dysmsapi.aliyuncs.com
VARIABLE = re.compile(r"\$\{([^}]+)\}")

# What each documented error code means for the outbox. Codes from the SMS error-code page
# (help.aliyun.com/document_detail/101346, "API错误码") and the POP gateway's common errors.
# Kinds: see ``_KINDS`` below for retry/blocked and the sentence the clinic reads.
_CODES = {
    # The gateway's own refusals (HTTP 4xx): the clinic's AccessKey settings.
    "SignatureDoesNotMatch": "credentials",
    "IncompleteSignature": "credentials",
    "InvalidAccessKeyId.NotFound": "credentials",
    "InvalidAccessKeyId.Inactive": "credentials",
    "InvalidCredentials": "credentials",  # the SDK's own: no AccessKey configured
    "Forbidden.RAM": "credentials",
    "isp.RAM_PERMISSION_DENY": "credentials",
    # Our server's clock is off by more than 15 minutes, or a nonce repeated: not the
    # message's fault, a later attempt is signed anew.
    "InvalidTimeStamp.Expired": "clock",
    "SignatureNonceUsed": "clock",
    # Throttling and the provider's own trouble.
    "Throttling": "throttled",
    "Throttling.User": "throttled",
    "Throttling.Api": "throttled",
    "ServiceUnavailable": "unavailable",
    "InternalError": "unavailable",
    "isp.SYSTEM_ERROR": "unavailable",
    "isp.GATEWAY_ERROR": "unavailable",
    # Per-number frequency (同一号码 per minute / hour / day) and the account's own caps.
    "isv.BUSINESS_LIMIT_CONTROL": "number_rate",
    "isv.DAY_LIMIT_CONTROL": "account_day",
    "isv.MONTH_LIMIT_CONTROL": "account_month",
    # Out of money: works again once the clinic tops up.
    "isv.AMOUNT_NOT_ENOUGH": "balance",
    "isv.OUT_OF_SERVICE": "balance",
    # The Alibaba Cloud account itself.
    "isv.PRODUCT_UN_SUBSCRIPT": "account",
    "isv.PRODUCT_UNSUBSCRIBE": "account",
    "isv.ACCOUNT_NOT_EXISTS": "account",
    "isv.ACCOUNT_ABNORMAL": "account",
    "isv.SECURITY_FROZEN_ACCOUNT": "account",
    "isv.DENY_IP_RANGE": "account",
    # Template and signature.
    "isv.SMS_TEMPLATE_ILLEGAL": "template",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": "template",
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": "template",
    "isv.SMS_SIGNATURE_ILLEGAL": "signature",
    "isv.SMS_SIGN_ILLEGAL": "signature",
    "isv.SIGN_STATE_ILLEGAL": "signature",
    # The variables we filled in.
    "isv.TEMPLATE_MISSING_PARAMETERS": "params",
    "isv.INVALID_JSON_PARAM": "params",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "params",
    "isv.PARAM_NOT_SUPPORT_URL": "params",
    "isv.INVALID_PARAMETERS": "params",
    "isv.PARAM_LENGTH_LIMIT": "param_length",
    "isv.BLACK_KEY_CONTROL_LIMIT": "content",  # 变量中传入疑似违规信息
    "isv.SMS_CONTENT_ILLEGAL": "content",
    # The number.
    "isv.MOBILE_NUMBER_ILLEGAL": "number",
    "isv.MOBILE_COUNT_OVER_LIMIT": "number",
    "isv.SMS_TEST_NUMBER_LIMIT": "number",
    "isv.CUSTOMER_REFUSED": "blocked",  # 用户已退订: the patient unsubscribed
}

# kind → (retryable, blocked, what the clinic reads in the Outbox, in its language)
_KINDS = {
    "credentials": (
        False,
        False,
        gettext_lazy(
            "Alibaba Cloud refused the AccessKey: check the AccessKey ID and secret and that "
            "the RAM user may use SMS (%(code)s: %(reason)s)"
        ),
    ),
    "clock": (
        True,
        False,
        gettext_lazy("Alibaba Cloud refused the request's time stamp (%(code)s: %(reason)s)"),
    ),
    "throttled": (
        True,
        False,
        gettext_lazy("Alibaba Cloud is throttling requests (%(code)s: %(reason)s)"),
    ),
    "unavailable": (
        True,
        False,
        gettext_lazy("Alibaba Cloud is unavailable (%(code)s: %(reason)s)"),
    ),
    "number_rate": (
        True,
        False,
        gettext_lazy("Too many messages to this number for now (%(code)s: %(reason)s)"),
    ),
    "account_day": (
        True,
        False,
        gettext_lazy(
            "The daily sending limit set in the Alibaba Cloud console is reached "
            "(%(code)s: %(reason)s)"
        ),
    ),
    "account_month": (
        True,
        False,
        gettext_lazy(
            "The monthly sending limit set in the Alibaba Cloud console is reached "
            "(%(code)s: %(reason)s)"
        ),
    ),
    "balance": (
        True,
        False,
        gettext_lazy(
            "The Alibaba Cloud account's balance is insufficient; top it up (%(code)s: %(reason)s)"
        ),
    ),
    "account": (
        False,
        False,
        gettext_lazy("The Alibaba Cloud account cannot send SMS (%(code)s: %(reason)s)"),
    ),
    "template": (
        False,
        False,
        gettext_lazy(
            "Template %(template)s is not approved, does not exist or does not fit this "
            "number (%(code)s: %(reason)s)"
        ),
    ),
    "signature": (
        False,
        False,
        gettext_lazy("Signature %(sign)s is not registered or not approved (%(code)s: %(reason)s)"),
    ),
    "params": (
        False,
        False,
        gettext_lazy("The variables do not fit template %(template)s (%(code)s: %(reason)s)"),
    ),
    "param_length": (
        False,
        False,
        gettext_lazy("A variable of template %(template)s is too long (%(code)s: %(reason)s)"),
    ),
    "content": (
        False,
        False,
        gettext_lazy("Alibaba Cloud refused the content of the variables (%(code)s: %(reason)s)"),
    ),
    "number": (
        False,
        False,
        gettext_lazy("Alibaba Cloud refused the phone number (%(code)s: %(reason)s)"),
    ),
    "blocked": (
        False,
        True,
        gettext_lazy("The patient has unsubscribed from this sender (%(code)s: %(reason)s)"),
    ),
}

# Retry delays where Alibaba's own documentation states the window.
_RATE_WINDOWS = (("分钟", timedelta(minutes=1)), ("小时", timedelta(hours=1)))
_BALANCE_RETRY = timedelta(hours=1)
_THROTTLE_RETRY = timedelta(minutes=1)
_CLOCK_RETRY = timedelta(minutes=5)

_STATUS_WAITING, _STATUS_FAILED, _STATUS_DELIVERED = 1, 2, 3  # QuerySendDetails SendStatus
_TEMPLATE_STATUS = {  # GetSmsTemplate TemplateStatus
    "0": gettext_lazy("Template %(template)s is still under review"),
    "2": gettext_lazy("Template %(template)s was rejected"),
    "10": gettext_lazy("Template %(template)s had its review cancelled"),
}


def _next_midnight(moment: datetime) -> datetime:
    local = moment.astimezone(BEIJING)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), BEIJING)


def _next_month(moment: datetime) -> datetime:
    local = moment.astimezone(BEIJING)
    first = local.date().replace(day=1) + timedelta(days=32)
    return datetime.combine(first.replace(day=1), datetime.min.time(), BEIJING)


def _retry_after(kind: str, reason: str) -> timedelta | None:
    now = clock.now()
    if kind == "number_rate":
        for word, window in _RATE_WINDOWS:
            if word in reason:
                return window
        # 天级流控 or no window named: the per-number day resets at Beijing midnight.
        return _next_midnight(now) - now
    if kind == "account_day":
        return _next_midnight(now) - now
    if kind == "account_month":
        return _next_month(now) - now
    if kind == "balance":
        return _BALANCE_RETRY
    if kind == "throttled":
        return _THROTTLE_RETRY
    if kind == "clock":
        return _CLOCK_RETRY
    return None


def provider_error(
    code: str, reason: str, *, status: int = 200, template: str = "", sign: str = ""
) -> ProviderError:
    """The ``ProviderError`` for an Alibaba error code, by ``_CODES``; an undocumented code
    is retried only when the HTTP status says the server failed."""
    kind = _CODES.get(code)
    if kind is None:
        retryable = status >= 500
        text = _("Alibaba Cloud refused the message (%(code)s: %(reason)s)") % {
            "code": code,
            "reason": reason,
        }
        return ProviderError(text, retryable=retryable, code=code)
    retryable, blocked, text = _KINDS[kind]
    values = {"code": code, "reason": reason, "template": template or "?", "sign": sign or "?"}
    return ProviderError(
        str(text) % values,
        retryable=retryable,
        blocked=blocked,
        retry_after=_retry_after(kind, reason) if retryable else None,
        code=code,
    )


def phone_for_alibaba(e164: str) -> str:
    """Alibaba's number format: mainland numbers as the bare 11 digits, others as country
    code and number without "+" or "00" (8521234…)."""
    if not re.fullmatch(r"\+[1-9]\d{6,14}", e164 or ""):
        raise ProviderError(
            _("The phone number is not in international format (+86…)"),
            retryable=False,
            code="number",
        )
    if e164.startswith("+86"):
        return e164[3:]
    return e164[1:]


def phone_from_alibaba(number: str) -> str:
    """E.164 for a number as Alibaba reports it: 11 digits starting with 1 are mainland
    mobiles; otherwise the digits already begin with the country code."""
    digits = re.sub(r"[\s-]", "", str(number))
    if digits.startswith("+"):
        return digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits
    return "+" + digits


_NETWORK_REASONS = (
    ("timed out", gettext_lazy("timed out")),
    ("refused", gettext_lazy("connection refused")),
    ("reset", gettext_lazy("connection reset")),
    ("aborted", gettext_lazy("connection aborted")),
    ("resolve", gettext_lazy("host name not found")),
    ("not known", gettext_lazy("host name not found")),
    ("ssl", gettext_lazy("TLS error")),
)


def _network_reason(exc: Exception) -> str:
    inner = getattr(exc, "inner_exception", None) or exc
    text = str(getattr(inner, "message", None) or inner).lower()
    for needle, reason in _NETWORK_REASONS:
        if needle in text:
            return str(reason)
    if isinstance(inner, ValueError):
        return _("the answer was not Alibaba Cloud's")
    return _("network error")


def _wall_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(str(text), WALL_TIME).replace(tzinfo=BEIJING)
    except ValueError:
        return None


class AliyunSms:
    name = "aliyun"
    templated = True

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        sign_name: str,
        app_id: str = "",  # Alibaba has no application id: the AccessKey names the account
        region: str = "",
        endpoint: str = "",
        timeout: float = 10.0,
    ):
        self.sign_name = sign_name
        config = Config(
            access_key_id=key_id,
            access_key_secret=key_secret,
            region_id=region or DEFAULT_REGION,
            connect_timeout=int(timeout * 1000),
            read_timeout=int(timeout * 1000),
        )
        if endpoint:
            # "http://127.0.0.1:8080" (a local fake) or a bare host name (HTTPS).
            parts = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
            config.endpoint = parts.netloc
            config.protocol = parts.scheme.upper()
        # The SDK keeps one pooled, kept-alive HTTP session per host for all its clients.
        self.client = Client(config)
        self.configured = bool(key_id and key_secret)

    # -- calling the API ---------------------------------------------------------------

    def _call(self, method, request, *, template: str = "", sign: str = ""):
        """One API call; any failure becomes a ProviderError; the response body on "OK"."""
        if not self.configured:
            # Without an AccessKey the SDK would look for credentials elsewhere (environment,
            # instance metadata): never for a clinic's gateway.
            raise provider_error(
                "InvalidCredentials", "no AccessKey configured", template=template, sign=sign
            )
        try:
            response = method(request, RuntimeOptions())
        except AlibabaCloudException as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            reason = data.get("Message") or data.get("message") or exc.message or ""
            raise provider_error(
                str(exc.code),
                str(reason)[:300],
                status=exc.status_code or 500,
                template=template,
                sign=sign,
            ) from exc
        except (TeaException, OSError, ValueError) as exc:
            # Connection refused, timeouts, a reset, a body that is not Alibaba's JSON (a
            # proxy's error page): the request may not have arrived, trying again may work.
            # The SDK's text holds the request URL, whose query has the number and the
            # variables: only a fixed phrase leaves here, and the chain is cut (logs, Sentry).
            raise ProviderError(
                _("Alibaba Cloud could not be reached (%(reason)s)")
                % {"reason": _network_reason(exc)},
                retryable=True,
                code="network",
            ) from None
        body = response.body
        if body is None or body.code != "OK":
            code = body.code if body is not None and body.code else "NoCode"
            reason = body.message if body is not None and body.message else ""
            raise provider_error(code, reason, template=template, sign=sign)
        return body

    # -- the Gateway interface ---------------------------------------------------------

    def send(self, outgoing: Outgoing) -> Sent:
        sign = outgoing.sign_name or self.sign_name
        request = sms_models.SendSmsRequest(
            phone_numbers=phone_for_alibaba(outgoing.to),
            sign_name=sign,
            template_code=outgoing.template_code,
            # Chinese as it is, not \u escapes: Alibaba counts a variable's characters.
            template_param=json.dumps(
                {name: str(value) for name, value in outgoing.params.items()},
                ensure_ascii=False,
            ),
            out_id=outgoing.key,
        )
        body = self._call(
            self.client.send_sms_with_options,
            request,
            template=outgoing.template_code,
            sign=sign,
        )
        if not body.biz_id:
            raise ProviderError(_("Alibaba Cloud answered OK without a BizId"), retryable=True)
        return Sent(provider_id=body.biz_id)

    def template_variables(self, code: str) -> list[str]:
        try:
            body = self._call(
                self.client.get_sms_template_with_options,
                sms_models.GetSmsTemplateRequest(template_code=code),
                template=code,
            )
        except ProviderError as exc:
            if exc.retryable:
                raise
            raise ProviderError(
                _("Template %(template)s is unknown to this Alibaba Cloud account (%(error)s)")
                % {"template": code, "error": exc},
                retryable=False,
                code=exc.code,
            ) from exc
        status = str(body.template_status)
        if status != "1":
            state = _TEMPLATE_STATUS.get(
                status, gettext_lazy("Template %(template)s is not approved (status %(status)s)")
            )
            text = str(state) % {"template": code, "status": status}
            if body.audit_info is not None and body.audit_info.reject_info:
                text = f"{text}: {body.audit_info.reject_info}"
            raise ProviderError(text, retryable=False, code="TemplateNotApproved")
        return list(dict.fromkeys(VARIABLE.findall(body.template_content or "")))

    def receipts_pull(self, pending: list[PendingReceipt]) -> list[Receipt]:
        """QuerySendDetails per message (by number, Beijing day and BizId; records of the
        last 30 days). Still-waiting messages give nothing. A failure after some receipts
        returns those (the rest are asked again next time); a failure before any raises."""
        receipts = []
        for item in pending:
            try:
                number = phone_for_alibaba(item.to)
            except ProviderError:
                continue  # never sent: SendSms refuses such a number too
            request = sms_models.QuerySendDetailsRequest(
                phone_number=number,
                send_date=item.sent_at.astimezone(BEIJING).strftime("%Y%m%d"),
                biz_id=item.provider_id,
                page_size=10,
                current_page=1,
            )
            try:
                body = self._call(self.client.query_send_details_with_options, request)
            except ProviderError:
                if receipts:
                    break
                raise
            details = body.sms_send_detail_dtos
            for detail in (details.sms_send_detail_dto if details else None) or []:
                status = int(detail.send_status or _STATUS_WAITING)
                if status == _STATUS_WAITING:
                    continue
                delivered = status == _STATUS_DELIVERED
                receipts.append(
                    Receipt(
                        provider_id=item.provider_id,
                        delivered=delivered,
                        error="" if delivered else (detail.err_code or "failed"),
                        at=_wall_time(detail.receive_date),
                    )
                )
                break
        return receipts

    def replies_pull(self) -> list[Reply]:
        # Alibaba delivers replies (上行短信) only by HTTP push (SmsUp) or into an MNS queue;
        # there is no API to fetch them.
        return []

    def callback_parse(self, kind: str, body: bytes) -> list[Receipt | Reply]:
        try:
            items = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError("not JSON") from exc
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("an Alibaba push is a JSON array of objects")
        if kind == "status":
            return [self._report(item) for item in items]
        if kind == "inbound":
            return [self._reply(item) for item in items]
        raise ValueError(f"unknown callback kind {kind!r}")

    def callback_ack(self) -> tuple[str, bytes]:
        # Alibaba checks only that "code" is a number (and HTTP 200); anything else is pushed
        # again after 1, 5 and 10 minutes.
        return "application/json", json.dumps({"code": 0, "msg": "成功"}).encode()

    # -- callbacks ---------------------------------------------------------------------

    @staticmethod
    def _report(item: dict) -> Receipt:
        """One SmsReport: phone_number, send_time, report_time, success, err_code, err_msg,
        sms_size, biz_id, out_id."""
        biz_id, success = item.get("biz_id"), item.get("success")
        if not isinstance(biz_id, str) or not biz_id or not isinstance(success, bool):
            raise ValueError("an SmsReport needs biz_id and success")
        error = ""
        if not success:
            error = ": ".join(str(item[k]) for k in ("err_code", "err_msg") if item.get(k))
        return Receipt(
            provider_id=biz_id,
            delivered=success,
            error=error or ("" if success else "failed"),
            at=_wall_time(item.get("report_time")),
        )

    @staticmethod
    def _reply(item: dict) -> Reply:
        """One SmsUp: phone_number, send_time, content, sign_name, dest_code, sequence_id."""
        number, content = item.get("phone_number"), item.get("content")
        if not isinstance(number, str | int) or not str(number).strip():
            raise ValueError("an SmsUp needs phone_number")
        if not isinstance(content, str):
            raise ValueError("an SmsUp needs content")
        # sequence_id is Alibaba's number for the reply, but the documentation does not say
        # it is unique beyond one extension code: the id hashes it with the other fields, so
        # a replayed push is the same reply and two replies never merge into one.
        fields = [item.get(k) for k in ("sequence_id", "phone_number", "send_time", "dest_code")]
        digest = hashlib.sha256(
            json.dumps([*fields, content], ensure_ascii=False, default=str).encode()
        ).hexdigest()
        return Reply(
            provider_id=f"smsup-{digest[:40]}",
            from_number=phone_from_alibaba(str(number)),
            body=content,
            at=_wall_time(item.get("send_time")),
        )

"""Tencent Cloud SMS (API 2021-01-11) on 127.0.0.1 for the tests, reached by the real SDK
through its HttpProfile endpoint with scheme http.

It checks every request as Tencent does: the TC3-HMAC-SHA256 signature over the canonical
request (method, path, query, the signed headers lowercased, the payload's SHA-256), the
credential scope <date>/sms/tc3_request, the timestamp within five minutes of its clock;
then answers in Tencent's shapes, ``{"Response": {..., "RequestId"}}``, with its error codes
(``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``). Errors about the request as a
whole (credentials, template, signature, variables) come as a request error; those about one
number (its frequency limits, the do-not-disturb list, a malformed number) come inside
``SendStatusSet[].Code``, as Tencent sends them.

Scriptable: ``fake.script`` takes, per SendSms request, an error code (answered where
Tencent puts it), an HTTP status, or ("sleep", seconds). ``fake.templates[id] = (content,
approved)`` (or ``(content, approved, international)``), ``fake.blacklist`` of numbers,
``fake.receipt(...)`` / ``fake.reply(...)`` queue what the pull APIs hand out, and
``callback_body`` / ``reply_body`` make the callback payloads Tencent posts."""

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
VERSION = "2021-01-11"
REGIONS = {"ap-guangzhou", "ap-beijing", "ap-nanjing"}
_VARIABLE = re.compile(r"\{(\d+)\}")

# The messages are Tencent's English descriptions of the codes (en-US).
MESSAGES = {
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. "
    "Please check your signature is correct.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your "
    "SecretId is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp and server time cannot differ "
    "by more than five minutes.",
    "AuthFailure.InvalidAuthorization": "Authorization in the request header is invalid.",
    "FailedOperation.TemplateIncorrectOrUnapproved": "template is not approved or request "
    "content does not match the approved template content",
    "FailedOperation.SignatureIncorrectOrUnapproved": "signature format is incorrect or "
    "signature is not approved",
    "FailedOperation.PhoneNumberInBlacklist": "the phone number is in the blocklist (the user "
    "unsubscribed or the carrier blocks it)",
    "FailedOperation.TemplateIdNotExist": "the template ID does not exist",
    "FailedOperation.ProhibitSubAccountUse": "sub-accounts cannot pull the template list; use "
    "the main account's API key",
    "LimitExceeded.PhoneNumberDailyLimit": "the number of SMS messages sent to a single mobile "
    "number every day exceeds the upper limit",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "the number of SMS messages sent to a single "
    "mobile number within 30 seconds exceeds the upper limit",
    "LimitExceeded.PhoneNumberOneHourLimit": "the number of SMS messages sent to a single "
    "mobile number within 1 hour exceeds the upper limit",
    "InvalidParameterValue.TemplateParameterLengthLimit": "the length of a template variable "
    "exceeds the limit",
    "InvalidParameterValue.TemplateParameterFormatError": "verification code template "
    "parameter format error",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect phone number format",
    "InvalidParameterValue.SdkAppIdNotExist": "SdkAppId does not exist",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": "the request contains "
    "both Chinese mainland and international mobile numbers",
    "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone": "a Chinese mainland template "
    "cannot be sent to an international number",
    "InternalError.Timeout": "request timed out",
    "InternalError.OtherError": "other error",
    "RequestLimitExceeded": "Your current request times equals to `3000` in a second, which "
    "exceeds the frequency limit `3000` for a second. Please reduce the frequency of calls.",
    "InvalidAction": "The action does not exist.",
    "NoSuchVersion": "The API version does not exist.",
    "UnsupportedRegion": "The region is not supported.",
    "MissingParameter": "The request is missing a required parameter.",
}
# Where Tencent reports a code: in SendStatusSet for the number it is about.
PER_NUMBER = {
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
    "FailedOperation.PhoneNumberInBlacklist",
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberParseFail",
}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """Tencent's key derivation: TC3+key → date → service → "tc3_request" → signature."""
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentError(Exception):
    def __init__(self, code: str, message: str = ""):
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES.get(code, code)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up waiting (the timeout tests) closes its end: not an error.
        pass


class FakeTencent:
    def __init__(
        self, secret_id="AKIDfake000000000000000000", secret_key="fake-secret", app_id="1400006666"
    ):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.app_id = app_id
        # Tencent accounts: API keys, and the SMS applications each account owns. A second
        # account (another clinic's) is added with add_account().
        self.keys = {secret_id: secret_key}
        self.app_owner = {app_id: secret_id}
        self.signs = {"仁心医院"}  # approved signatures (签名)
        self.templates: dict[str, tuple] = {}
        self.sub_accounts: set[str] = set()  # keys Tencent lists no templates for
        self.skew = 0  # seconds Tencent's clock is ahead of ours (negative: behind)
        self.param_max_length = 12  # the console's limit per variable (characters)
        self.blacklist: set[str] = set()
        self.sent: list[dict] = []  # messages the "network" delivered to phones
        self.requests: list[dict] = []  # every request that passed the signature check
        self.script: list = []  # per SendSms: an error code, an HTTP status, ("sleep", s)
        self._receipts: dict[str, list[dict]] = {app_id: []}
        self._replies: dict[str, list[dict]] = {app_id: []}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Tencent's API
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every kept-alive response back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                fake._handle(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- what tests queue and build

    def add_account(self, secret_id: str, secret_key: str, app_id: str):
        self.keys[secret_id] = secret_key
        self.app_owner[app_id] = secret_id
        self._receipts[app_id] = []
        self._replies[app_id] = []

    def receipt(self, serial_no: str, *, delivered=True, phone="+8613800138000", at=None,
                description="", app_id=None):  # fmt: skip
        """A delivery report for PullSmsSendStatus."""
        at = at or datetime.now(UTC)
        self._receipts[app_id or self.app_id].append(
            {
                "UserReceiveTime": int(at.timestamp()),
                "CountryCode": phone[1:3] if phone.startswith("+86") else phone[1:-10],
                "SubscriberNumber": phone[-11:] if phone.startswith("+86") else phone[-10:],
                "PhoneNumber": phone,
                "SerialNo": serial_no,
                "ReportStatus": "SUCCESS" if delivered else "FAIL",
                "Description": description
                or ("用户短信送达成功" if delivered else "用户短信发送失败"),
                "SessionContext": "",
            }
        )

    def reply(self, text: str, *, phone="+8613800138000", at=None, sign="仁心医院", extend="",
              app_id=None):  # fmt: skip
        """A patient's reply for PullSmsReplyStatus."""
        at = at or datetime.now(UTC)
        self._replies[app_id or self.app_id].append(
            {
                "ExtendCode": extend,
                "CountryCode": "86",
                "PhoneNumber": phone,
                "SignName": sign,
                "ReplyContent": text,
                "ReplyTime": int(at.timestamp()),
                "SubscriberNumber": phone[3:] if phone.startswith("+86") else phone,
            }
        )

    @staticmethod
    def callback_body(*reports: dict) -> bytes:
        """The status callback: a JSON array of reports. Each report: ``sid``, and optionally
        ``delivered`` (True), ``mobile`` ("13800138000"), ``nationcode`` ("86"),
        ``errmsg``, ``description``, ``at`` (aware datetime)."""
        items = []
        for report in reports:
            delivered = report.get("delivered", True)
            at = report.get("at") or datetime.now(UTC)
            items.append(
                {
                    "user_receive_time": at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                    "nationcode": report.get("nationcode", "86"),
                    "mobile": report.get("mobile", "13800138000"),
                    "report_status": "SUCCESS" if delivered else "FAIL",
                    "errmsg": report.get("errmsg", "DELIVRD" if delivered else "MK:0001"),
                    "description": report.get(
                        "description", "用户短信送达成功" if delivered else "空号"
                    ),
                    "sid": report["sid"],
                }
            )
        return json.dumps(items, ensure_ascii=False).encode()

    @staticmethod
    def reply_body(text: str, *, mobile="13800138000", nationcode="86", at=None,
                   sign="仁心医院", extend="") -> bytes:  # fmt: skip
        """The reply callback: one JSON object."""
        at = at or datetime.now(UTC)
        return json.dumps(
            {
                "extend": extend,
                "mobile": mobile,
                "nationcode": nationcode,
                "sign": sign,
                "text": text,
                "time": int(at.timestamp()),
            },
            ensure_ascii=False,
        ).encode()

    # ---- the wire

    def _answer(self, handler, status: int, body: dict | bytes):
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        handler.send_response(status)
        # Exactly "application/json": the SDK reads an error only from that or text/plain.
        content_type = "text/html" if isinstance(body, bytes) else "application/json"
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length", 0))
        payload = handler.rfile.read(length)
        request_id = str(uuid.uuid4())
        try:
            secret_id = self._authenticate(handler, payload)
            action = handler.headers.get("X-TC-Action", "")
            if handler.headers.get("X-TC-Version") != VERSION:
                raise TencentError("NoSuchVersion")
            if handler.headers.get("X-TC-Region") not in REGIONS:
                raise TencentError("UnsupportedRegion")
            params = json.loads(payload or b"{}")
            with self._lock:
                self.requests.append({"action": action, "params": params})
            answer = getattr(self, f"_action_{action}", None)
            if answer is None:
                raise TencentError("InvalidAction")
            result = answer(params, secret_id)
            if isinstance(result, int):  # a scripted HTTP status
                return self._answer(handler, result, b"<html>bad gateway</html>")
        except TencentError as exc:
            result = {"Error": {"Code": exc.code, "Message": exc.message}}
        return self._answer(handler, 200, {"Response": {**result, "RequestId": request_id}})

    def _authenticate(self, handler, payload: bytes):
        header = handler.headers.get("Authorization", "")
        match = re.fullmatch(
            r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
            r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
            header,
        )
        if not match:
            raise TencentError("AuthFailure.InvalidAuthorization")
        secret_id, date, service, signed_headers, signature = match.groups()
        if secret_id not in self.keys:
            raise TencentError("AuthFailure.SecretIdNotFound")
        try:
            timestamp = int(handler.headers.get("X-TC-Timestamp", ""))
        except ValueError:
            raise TencentError("AuthFailure.InvalidAuthorization") from None
        if abs(time.time() + self.skew - timestamp) > 300:
            raise TencentError("AuthFailure.SignatureExpire")
        names = signed_headers.split(";")
        if "content-type" not in names or "host" not in names:
            raise TencentError("AuthFailure.InvalidAuthorization")
        canonical_headers = "".join(
            f"{name}:{(handler.headers.get(name) or '').strip().lower()}\n" for name in names
        )
        path, _sep, query = handler.path.partition("?")
        if handler.headers.get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD":
            payload_hash = hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
        else:
            payload_hash = hashlib.sha256(payload).hexdigest()
        canonical_request = "\n".join(
            ["POST", path, query, canonical_headers, signed_headers, payload_hash]
        )
        scope = f"{date}/{service}/tc3_request"
        string_to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        expected = tc3_signature(self.keys[secret_id], date, service, string_to_sign)
        # The scope's date is the timestamp's UTC day, and the service is the one called.
        utc_day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if service != "sms" or date != utc_day or not hmac.compare_digest(expected, signature):
            raise TencentError("AuthFailure.SignatureFailure")
        return secret_id

    def _application(self, params: dict, secret_id: str) -> str:
        """The request's SmsSdkAppId, which must be one of the calling account's."""
        app_id = params.get("SmsSdkAppId")
        if not app_id:
            raise TencentError("MissingParameter")
        if app_id not in self.app_owner:
            raise TencentError("InvalidParameterValue.SdkAppIdNotExist")
        if self.app_owner[app_id] != secret_id:
            raise TencentError(
                "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
                "SmsSdkAppId verification failed: it does not belong to this account",
            )
        return app_id

    # ---- the actions

    def _template(self, template_id: str):
        entry = self.templates.get(str(template_id))
        if entry is None:
            return None
        content, approved, *rest = entry
        return content, approved, bool(rest and rest[0])

    def _action_SendSms(self, params: dict, secret_id: str):
        with self._lock:
            step = self.script.pop(0) if self.script else None
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            step = None
        if isinstance(step, int):
            return step
        numbers = params.get("PhoneNumberSet") or []
        if not numbers or "TemplateId" not in params:
            raise TencentError("MissingParameter")
        app_id = self._application(params, secret_id)
        if isinstance(step, str) and step not in PER_NUMBER:
            raise TencentError(step)
        domestic = {n.startswith("+86") for n in numbers}
        if len(domestic) > 1:
            raise TencentError("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber")
        template = self._template(params["TemplateId"])
        if template is None or not template[1]:
            raise TencentError("FailedOperation.TemplateIncorrectOrUnapproved")
        content, _approved, international = template
        if domestic == {True} and params.get("SignName") not in self.signs:
            raise TencentError("FailedOperation.SignatureIncorrectOrUnapproved")
        if domestic == {False} and not international:
            raise TencentError("UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone")
        values = params.get("TemplateParamSet") or []
        variables = {int(n) for n in _VARIABLE.findall(content)}
        if len(values) != len(variables):
            raise TencentError("FailedOperation.TemplateIncorrectOrUnapproved")
        if any(len(value) > self.param_max_length for value in values):
            raise TencentError("InvalidParameterValue.TemplateParameterLengthLimit")
        statuses = []
        for number in numbers:
            code = step if isinstance(step, str) else "Ok"
            if code == "Ok" and number in self.blacklist:
                code = "FailedOperation.PhoneNumberInBlacklist"
            if code == "Ok" and not re.fullmatch(r"\+\d{8,15}", number):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
            serial = ""
            if code == "Ok":
                text = _VARIABLE.sub(lambda m: values[int(m.group(1)) - 1], content)
                with self._lock:
                    serial = f"2645:{next(self._serial):020d}"
                    self.sent.append(
                        {
                            "SerialNo": serial,
                            "SmsSdkAppId": app_id,
                            "PhoneNumber": number,
                            "SignName": params.get("SignName", ""),
                            "TemplateId": params["TemplateId"],
                            "TemplateParamSet": values,
                            "SessionContext": params.get("SessionContext", ""),
                            "text": f"【{params.get('SignName', '')}】{text}",
                        }
                    )
            statuses.append(
                {
                    "SerialNo": serial,
                    "PhoneNumber": number,
                    "Fee": 1 if code == "Ok" else 0,
                    "SessionContext": params.get("SessionContext", ""),
                    "Code": code,
                    "Message": "send success" if code == "Ok" else MESSAGES.get(code, code),
                    "IsoCode": "CN" if number.startswith("+86") else "DEF",
                }
            )
        return {"SendStatusSet": statuses}

    def _action_DescribeSmsTemplateList(self, params: dict, secret_id: str):
        if secret_id in self.sub_accounts:
            raise TencentError("FailedOperation.ProhibitSubAccountUse")
        if params.get("International") not in (0, 1):
            raise TencentError("MissingParameter")
        found = []
        for template_id in params.get("TemplateIdSet") or []:
            template = self._template(template_id)
            if template is None or int(template[2]) != params["International"]:
                continue
            content, approved, international = template
            found.append(
                {
                    "TemplateId": int(template_id),
                    "International": int(international),
                    "StatusCode": 0 if approved else -1,
                    "ReviewReply": "" if approved else "模板内容不符合规范",
                    "TemplateName": f"template {template_id}",
                    "CreateTime": 1617379200,
                    "TemplateContent": content,
                }
            )
        return {"DescribeTemplateStatusSet": found}

    def _pull(self, queues: dict, params: dict, secret_id: str) -> list:
        queue = queues[self._application(params, secret_id)]
        limit = int(params.get("Limit") or 0)
        if not 0 < limit <= 100:
            raise TencentError("InvalidParameterValue.LimitVerifyFail", "Limit is 1 to 100")
        with self._lock:
            batch, queue[:] = queue[:limit], queue[limit:]
        return batch

    def _action_PullSmsSendStatus(self, params: dict, secret_id: str):
        return {"PullSmsSendStatusSet": self._pull(self._receipts, params, secret_id)}

    def _action_PullSmsReplyStatus(self, params: dict, secret_id: str):
        return {"PullSmsReplyStatusSet": self._pull(self._replies, params, secret_id)}

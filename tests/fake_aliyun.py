"""Alibaba Cloud SMS (Dysmsapi 2017-05-25) on 127.0.0.1 for the tests: the RPC actions we
call (SendSms, QuerySendDetails, GetSmsTemplate) as the current SDK sends them — parameters
in the query string, signed with ACS3-HMAC-SHA256 in the Authorization header — checked the
way Alibaba's gateway checks them, and answered with Alibaba's response and error shapes:
gateway refusals (signature, AccessKey, time stamp, nonce, throttling, 5xx) as an HTTP error
with a JSON body, business refusals (``isv.*``) in the body of an HTTP 200.

Each AccessKey is one Alibaba account with its own templates, signatures, sent messages and
receipts (``add_account``), so a test can show that one clinic's key sees nothing of
another's. ``script`` makes the next requests fail: an error code (answered in its real
shape), an HTTP status, ``("sleep", seconds)`` or ``("raw", status, body)``."""

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
VERSION = "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"
AUTHORIZATION = re.compile(
    r"^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$"
)
VARIABLE = re.compile(r"\$\{([^}]+)\}")
MAX_CLOCK_SKEW = 15 * 60  # seconds; Alibaba's gateway allows 15 minutes

# The gateway's refusals: HTTP status and message as Alibaba's POP gateway answers them.
GATEWAY_ERRORS = {
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "SignatureDoesNotMatch": (400, "Specified signature does not match our calculation."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "InvalidAction.NotFound": (
        404,
        "Specified api is not found, please check your url and method.",
    ),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling.Api": (400, "Request was denied due to api flow control."),
    "InternalError": (
        500,
        "The request processing has failed due to some unknown error, exception or failure.",
    ),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
}
# Business refusals (HTTP 200, Code ≠ OK), messages from Alibaba's error-code page.
BUSINESS_ERRORS = {
    "isv.BUSINESS_LIMIT_CONTROL": "触发天级流控Permits:10",
    "isv.DAY_LIMIT_CONTROL": "触发日发送限额",
    "isv.MONTH_LIMIT_CONTROL": "触发月发送限额",
    "isv.MOBILE_NUMBER_ILLEGAL": "手机号码格式错误",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "传入的变量内容和实际申请模板时变量所选择的属性类型不配",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量中存在未赋值变量",
    "isv.INVALID_JSON_PARAM": "参数格式错误，请修改为字符串值",
    "isv.INVALID_PARAMETERS": "参数格式不正确",
    "isv.PARAM_LENGTH_LIMIT": "参数超过长度限制",
    "isv.BLACK_KEY_CONTROL_LIMIT": "变量中传入疑似违规信息",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.OUT_OF_SERVICE": "业务停机",
    "isv.CUSTOMER_REFUSED": "用户已退订推广短信",
    "isp.SYSTEM_ERROR": "系统出现错误，请重新调用",
    "isp.RAM_PERMISSION_DENY": "RAM权限不足",
}
TEMPLATE_STATUS = {True: "1", False: "2"}  # approved / rejected; "0" reviewing, "10" cancelled


def wall(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def mainland_or_international(raw: str) -> str | None:
    """A PhoneNumbers entry as Alibaba reads it: a mainland mobile with or without +, +86,
    0086 or 86 → its 11 digits; otherwise country code and number (7–15 digits)."""
    text = raw.strip()
    for prefix in ("+86", "0086", "86", "+"):
        rest = text[len(prefix) :]
        if text.startswith(prefix) and re.fullmatch(r"1[3-9]\d{9}", rest):
            return rest
    if re.fullmatch(r"1[3-9]\d{9}", text):
        return text
    if text.startswith("1"):  # not a mainland mobile: North America's 1 + ten digits
        return text if re.fullmatch(r"1[2-9]\d{9}", text) else None
    if re.fullmatch(r"[2-9]\d{6,14}", text) and not text.startswith("86"):
        return text
    return None


@dataclass
class Account:
    """One Alibaba Cloud account, as one AccessKey sees it."""

    key_id: str
    secret: str
    signs: set[str] = field(default_factory=set)
    # code → (content, approved: bool or a TemplateStatus string[, the reason for rejection])
    templates: dict[str, tuple] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # numbers that unsubscribed (Alibaba form)
    sent: list[dict] = field(default_factory=list)  # what reached the "network"
    receipts: dict[str, tuple[int, str, datetime]] = field(default_factory=dict)


class FakeAliyun:
    def __init__(
        self, key_id="LTAI5tAlphaTestKey01", key_secret="alpha-secret", sign_name="康复随访"
    ):
        self.accounts: dict[str, Account] = {}
        self.default = self.add_account(key_id, key_secret, sign_name)
        self.script: list = []
        self.requests = 0
        self.param_max_length = 35  # characters per variable (Alibaba's template rules)
        self._nonces: set[str] = set()
        self._next_biz = 900619746936498440
        self._next_sequence = 1_000_000
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Alibaba's endpoint
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every kept-alive response back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                fake._handle(self)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- the default account, for short tests ------------------------------------------

    @property
    def key_id(self) -> str:
        return self.default.key_id

    @property
    def sent(self) -> list[dict]:
        return self.default.sent

    @property
    def templates(self) -> dict[str, tuple]:
        return self.default.templates

    @property
    def signs(self) -> set[str]:
        return self.default.signs

    @property
    def refused(self) -> set[str]:
        return self.default.refused

    def add_account(self, key_id: str, secret: str, sign_name: str = "") -> Account:
        account = Account(key_id=key_id, secret=secret, signs={sign_name} if sign_name else set())
        self.accounts[key_id] = account
        return account

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- what tests queue and build ----------------------------------------------------

    def receipt(
        self,
        biz_id: str,
        *,
        delivered: bool = True,
        err_code: str = "",
        at: datetime | None = None,
        account: Account | None = None,
    ):
        """The carrier's report on a sent message, as QuerySendDetails will show it."""
        status = 3 if delivered else 2
        code = err_code or ("DELIVERED" if delivered else "MK:0001")
        moment = at or datetime.fromtimestamp(time.time(), UTC)
        (account or self.default).receipts[biz_id] = (status, code, moment)

    def report_body(
        self, *biz_ids: str, success=True, err_code="", err_msg="", account=None
    ) -> bytes:
        """An SmsReport push (HTTP batch-push mode) about messages the fake sent."""
        by_id = {m["biz_id"]: m for m in (account or self.default).sent}
        now = datetime.fromtimestamp(time.time(), UTC)
        items = []
        for biz_id in biz_ids:
            message = by_id[biz_id]
            items.append(
                {
                    "phone_number": message["phone"],
                    "send_time": wall(message["at"]),
                    "report_time": wall(now),
                    "success": success,
                    "err_code": err_code or ("DELIVERED" if success else "MK:0001"),
                    "err_msg": err_msg or ("用户接收成功" if success else "用户停机"),
                    "sms_size": "1",
                    "biz_id": biz_id,
                    "out_id": message["OutId"],
                }
            )
        return json.dumps(items, ensure_ascii=False).encode()

    def up_body(self, *replies: tuple[str, str], sign_name: str = "") -> bytes:
        """An SmsUp push: (phone_number as Alibaba writes it, content) per reply."""
        now = datetime.fromtimestamp(time.time(), UTC)
        items = []
        for number, content in replies:
            with self._lock:
                self._next_sequence += 1
                sequence = self._next_sequence
            items.append(
                {
                    "phone_number": number,
                    "send_time": wall(now),
                    "content": content,
                    "sign_name": sign_name or next(iter(self.default.signs), ""),
                    "dest_code": "1234",
                    "sequence_id": sequence,
                }
            )
        return json.dumps(items, ensure_ascii=False).encode()

    def callback_body(self, kind: str, *args, **kwargs) -> bytes:
        """``callback_body("status", biz_id, …)`` or ``callback_body("inbound", (n, text))``."""
        return self.report_body(*args, **kwargs) if kind == "status" else self.up_body(*args)

    # -- the wire ----------------------------------------------------------------------

    def _answer(self, handler, status: int, body: dict | bytes, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("x-acs-request-id", str(uuid.uuid4()).upper())
        handler.end_headers()
        handler.wfile.write(data)

    def _gateway_error(self, handler, code: str, extra: str = ""):
        status, message = GATEWAY_ERRORS[code]
        self._answer(
            handler,
            status,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "HostId": "dysmsapi.aliyuncs.com",
                "Code": code,
                "Message": message + extra,
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi",
            },
        )

    def _business(self, handler, code: str, message: str = ""):
        self._answer(
            handler,
            200,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "Code": code,
                "Message": message or BUSINESS_ERRORS.get(code, code),
            },
        )

    def _authenticate(self, handler, query: list[tuple[str, str]], body: bytes):
        """The ACS3-HMAC-SHA256 check: the account, or the name of the gateway's refusal."""
        match = AUTHORIZATION.match(handler.headers.get("Authorization", ""))
        if not match:
            return None, "IncompleteSignature", ""
        key_id, signed, signature = match.groups()
        account = self.accounts.get(key_id)
        if account is None:
            return None, "InvalidAccessKeyId.NotFound", ""
        names = signed.split(";")
        required = {"host"} | {n.lower() for n in handler.headers if n.lower().startswith("x-acs-")}
        if names != sorted(names) or not required <= set(names):
            return None, "IncompleteSignature", ""
        headers = []
        for name in names:
            values = handler.headers.get_all(name)
            if values is None:
                return None, "SignatureDoesNotMatch", ""
            headers.append(f"{name}:{','.join(sorted(v.strip() for v in values))}\n")
        canonical_query = "&".join(
            f"{k}={quote(v, safe='~')}" for k, v in sorted(query, key=lambda kv: kv[0])
        )
        path = urlsplit(handler.path).path or "/"
        canonical = "\n".join(
            [
                handler.command,
                path,
                canonical_query,
                "".join(headers),
                signed,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(account.secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return None, "SignatureDoesNotMatch", f" server string to sign is:{to_sign}"
        try:
            stamp = datetime.strptime(handler.headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return None, "InvalidTimeStamp.Expired", ""
        if abs(stamp.replace(tzinfo=UTC).timestamp() - time.time()) > MAX_CLOCK_SKEW:
            return None, "InvalidTimeStamp.Expired", ""
        nonce = handler.headers.get("x-acs-signature-nonce", "")
        with self._lock:
            if not nonce or nonce in self._nonces:
                return None, "SignatureNonceUsed", ""
            self._nonces.add(nonce)
        return account, "", ""

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        query = parse_qsl(urlsplit(handler.path).query, keep_blank_values=True)
        account, refusal, extra = self._authenticate(handler, query, body)
        if refusal:
            return self._gateway_error(handler, refusal, extra)
        if handler.headers.get("x-acs-version") != VERSION:
            return self._gateway_error(handler, "InvalidVersion")
        params = dict(query)
        if body and "x-www-form-urlencoded" in handler.headers.get("Content-Type", ""):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        with self._lock:
            self.requests += 1
            step = self.script.pop(0) if self.script else None
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            step = None
        if isinstance(step, tuple) and step[0] == "raw":
            return self._answer(handler, step[1], step[2], content_type="text/html")
        if isinstance(step, int):
            code = {500: "InternalError", 503: "ServiceUnavailable"}.get(step, "InternalError")
            message = GATEWAY_ERRORS[code][1]
            return self._answer(handler, step, {"Code": code, "Message": message})
        if isinstance(step, tuple) and step[0] == "code":
            return self._business(handler, step[1], step[2])
        if isinstance(step, str):
            if step in GATEWAY_ERRORS:
                return self._gateway_error(handler, step)
            return self._business(handler, step)
        action = {
            "SendSms": self._send_sms,
            "QuerySendDetails": self._query_send_details,
            "GetSmsTemplate": self._get_sms_template,
        }.get(handler.headers.get("x-acs-action", ""))
        if action is None:
            return self._gateway_error(handler, "InvalidAction.NotFound")
        return action(handler, account, params)

    # -- the actions -------------------------------------------------------------------

    def _send_sms(self, handler, account: Account, params: dict):
        numbers = params.get("PhoneNumbers", "")
        phone = mainland_or_international(numbers) if "," not in numbers else None
        if phone is None:
            return self._business(handler, "isv.MOBILE_NUMBER_ILLEGAL")
        if params.get("SignName", "") not in account.signs:
            return self._business(handler, "isv.SMS_SIGNATURE_ILLEGAL")
        code = params.get("TemplateCode", "")
        template = account.templates.get(code)
        if template is None or TEMPLATE_STATUS.get(template[1], template[1]) != "1":
            return self._business(handler, "isv.SMS_TEMPLATE_ILLEGAL")
        content = template[0]
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return self._business(handler, "isv.INVALID_JSON_PARAM")
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return self._business(handler, "isv.INVALID_JSON_PARAM")
        for name in VARIABLE.findall(content):
            if not values.get(name):
                return self._business(handler, "isv.TEMPLATE_MISSING_PARAMETERS")
            if len(values[name]) > self.param_max_length:
                return self._business(handler, "isv.PARAM_LENGTH_LIMIT")
        if phone in account.refused:
            return self._business(handler, "isv.CUSTOMER_REFUSED")
        text = VARIABLE.sub(lambda m: values[m.group(1)], content)
        with self._lock:
            self._next_biz += 1
            biz_id = f"{self._next_biz}^0"
            account.sent.append(
                {
                    "biz_id": biz_id,
                    "PhoneNumbers": numbers,
                    "phone": phone,
                    "SignName": params["SignName"],
                    "TemplateCode": code,
                    "params": values,
                    "OutId": params.get("OutId", ""),
                    "content": f"【{params['SignName']}】{text}",
                    "at": datetime.fromtimestamp(time.time(), UTC),
                }
            )
        self._answer(
            handler,
            200,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "Code": "OK",
                "Message": "OK",
                "BizId": biz_id,
            },
        )

    def _query_send_details(self, handler, account: Account, params: dict):
        try:
            page_size, page = int(params["PageSize"]), int(params["CurrentPage"])
            day = params["SendDate"]
            phone = mainland_or_international(params["PhoneNumber"])
        except (KeyError, ValueError):
            return self._business(handler, "isv.INVALID_PARAMETERS")
        if not 1 <= page_size <= 50 or page < 1 or not re.fullmatch(r"\d{8}", day):
            return self._business(handler, "isv.INVALID_PARAMETERS")
        now = datetime.fromtimestamp(time.time(), UTC).astimezone(BEIJING)
        if datetime.strptime(day, "%Y%m%d").date() < (now - timedelta(days=30)).date():
            return self._business(handler, "isv.INVALID_PARAMETERS", "只能查询30天内的记录")
        biz_id = params.get("BizId", "")
        found = [
            m
            for m in account.sent
            if m["phone"] == phone
            and m["at"].astimezone(BEIJING).strftime("%Y%m%d") == day
            and (not biz_id or m["biz_id"] == biz_id)
        ]
        details = []
        for message in found[(page - 1) * page_size : page * page_size]:
            status, err_code, received = account.receipts.get(message["biz_id"], (1, "", None))
            details.append(
                {
                    "PhoneNum": message["phone"],
                    "SendStatus": status,
                    "ErrCode": err_code,
                    "TemplateCode": message["TemplateCode"],
                    "Content": message["content"],
                    "SendDate": wall(message["at"]),
                    "ReceiveDate": wall(received) if received else "",
                    "OutId": message["OutId"],
                }
            )
        self._answer(
            handler,
            200,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "Code": "OK",
                "Message": "OK",
                "TotalCount": len(found),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
            },
        )

    def _get_sms_template(self, handler, account: Account, params: dict):
        code = params.get("TemplateCode", "")
        template = account.templates.get(code)
        if template is None:
            return self._business(handler, "isv.SMS_TEMPLATE_ILLEGAL")
        status = TEMPLATE_STATUS.get(template[1], template[1])
        reason = template[2] if len(template) > 2 else ""
        self._answer(
            handler,
            200,
            {
                "RequestId": str(uuid.uuid4()).upper(),
                "Code": "OK",
                "Message": "OK",
                "TemplateCode": code,
                "TemplateName": code,
                "TemplateContent": template[0],
                "TemplateType": "1",
                "TemplateStatus": status,
                "TemplateTag": 2,
                "AuditInfo": {"RejectInfo": reason, "AuditDate": ""} if reason else {},
                "CreateDate": "2026-01-05 10:00:00",
            },
        )

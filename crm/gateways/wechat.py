"""WeChat Official Account (公众号) template messages through wechatpy: the access token,
parametric QR codes that link a follower to a contact, template messages (the survey link
as the message's url), and WeChat's errors sorted into retry / fail now / blocked.

The API base is a setting (WECHAT_API_BASE), so the tests talk to a fake on 127.0.0.1.
wechatpy fetches the token from a fixed address and, with ``auto_retry``, refreshes it
without end when WeChat keeps refusing it: the client below asks the configured base and
refreshes at most once per call."""

import re

import requests
from django.core.cache import cache
from django.utils.translation import gettext as _
from wechatpy import WeChatClient
from wechatpy.events import TemplateSendJobFinishEvent
from wechatpy.exceptions import WeChatClientException
from wechatpy.parser import parse_message
from wechatpy.session import SessionStorage

from . import Outgoing, PendingReceipt, ProviderError, Receipt, Reply, Sent

# The access token was refused: expired (42001), not the latest one (40001), malformed
# (40014). A fresh one is fetched and the call made once more.
TOKEN_REFUSED = {40001, 40014, 42001}
# Busy (-1) and the account's call quotas (45009 a day, 45011 a minute): later may work.
RETRY_LATER = {-1, 45009, 45011}
# The user no longer follows the account (43004 "require subscribe") or is not one of its
# users (40003 "invalid openid"): this user cannot be reached in WeChat.
UNREACHABLE = {43004, 40003}
TEMPLATE_KEY = re.compile(r"\{\{\s*(\w+)\.DATA\s*\}\}")
QR_DAYS_MAX = 30  # WeChat keeps a temporary QR code 30 days at most


class CacheStorage(SessionStorage):
    """wechatpy's token store in Django's cache: the clinic's web processes and workers share
    one access token (a fetched token ends the previous one within five minutes, so one per
    process would keep refusing each other). Cache keys carry the tenant
    (django_tenants.cache.make_key)."""

    def get(self, key, default=None):
        return cache.get(f"wechat:{key}", default)

    def set(self, key, value, ttl=None):
        cache.set(f"wechat:{key}", value, ttl)

    def delete(self, key):
        cache.delete(f"wechat:{key}")


class _Session(requests.Session):
    """wechatpy passes no timeout when it fetches the token: every request gets one."""

    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = timeout

    def request(self, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(*args, **kwargs)


class _Client(WeChatClient):
    def __init__(self, *, app_id: str, app_secret: str, api_base: str, timeout: float, session):
        super().__init__(app_id, app_secret, session=session, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base.rstrip("/") + "/"
        self._http = _Session(timeout)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def _token_problem(code: int | None, detail: str) -> str:
    """What a refused access-token request means, for the administrator who entered it."""
    if code in (40125, 40001):
        return _(
            "WeChat refused the AppSecret (%(detail)s). Copy it again from the Official "
            "Account's Basic configuration page."
        ) % {"detail": detail}
    if code == 40013:
        return _("WeChat does not know this AppID (%(detail)s).") % {"detail": detail}
    if code == 40164:
        return _(
            "WeChat refuses calls from this server's IP address (%(detail)s): add it to the "
            "IP whitelist on the Official Account's Basic configuration page."
        ) % {"detail": detail}
    return _("WeChat refused the access token request (%(detail)s).") % {"detail": detail}


def _detail(exc: WeChatClientException) -> str:
    if exc.errcode is None:
        status = getattr(exc.response, "status_code", "")
        return f"HTTP {status}".strip()
    return f"{exc.errcode} {exc.errmsg}"


class WeChatGateway:
    """One clinic's Official Account. ``send`` takes an Outgoing whose ``to`` is the OpenID,
    ``template_code`` the template id, ``params`` the template's data keys and ``link`` the
    survey link; the outbox's key goes as client_msg_id, with which WeChat drops a repeat
    within ten minutes (a retry after a timeout)."""

    name = "wechat"
    templated = True

    def __init__(self, *, app_id: str, app_secret: str, api_base: str, timeout: float = 10):
        self.client = _Client(
            app_id=app_id,
            app_secret=app_secret,
            api_base=api_base,
            timeout=timeout,
            session=CacheStorage(),
        )

    # --- calls with the token -----------------------------------------------------------

    def _fresh_token(self) -> None:
        self._token(fresh=True)

    def _token(self, *, fresh: bool = False) -> None:
        """The shared token, fetched when there is none, it is about to expire, or ``fresh``;
        a refusal says why, in the administrator's words."""
        try:
            if fresh:
                self.client.fetch_access_token()
            else:
                self.client.access_token  # noqa: B018 (the property fetches when due)
        except WeChatClientException as exc:
            raise ProviderError(
                _token_problem(exc.errcode, _detail(exc)),
                retryable=exc.errcode in RETRY_LATER or exc.errcode is None,
                code=str(exc.errcode or ""),
            ) from exc
        except requests.RequestException as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}", retryable=True) from exc

    def _call(self, method: str, endpoint: str, **kwargs) -> dict:
        """One API call; a refused token is refreshed and the call made once more."""
        for attempt in (1, 2):
            try:
                self._token()
                return getattr(self.client, method)(endpoint, **kwargs)
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_REFUSED and attempt == 1:
                    self._fresh_token()
                    continue
                raise self._classified(exc) from exc
            except requests.RequestException as exc:
                raise ProviderError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _classified(exc: WeChatClientException) -> ProviderError:
        code, detail = exc.errcode, f"WeChat {_detail(exc)}"
        if code is None:  # an HTTP error or an answer that was not WeChat's JSON
            return ProviderError(detail, retryable=True)
        if code in RETRY_LATER or code in TOKEN_REFUSED:
            return ProviderError(detail, retryable=True, code=str(code))
        if code in UNREACHABLE:
            return ProviderError(detail, retryable=False, blocked=True, code=str(code))
        if code == 40037:
            detail = _("WeChat does not know this template ID (%(detail)s).") % {"detail": detail}
        elif code == 47003:
            detail = _(
                "The message's data does not fit the WeChat template (%(detail)s): check the "
                "data keys mapped on the WeChat page."
            ) % {"detail": detail}
        return ProviderError(detail, retryable=False, code=str(code))

    # --- the gateway interface ------------------------------------------------------------

    def access_token_check(self) -> None:
        """Ask WeChat for an access token with these credentials: "send a test". ProviderError
        with the reason when it refuses."""
        self._fresh_token()

    def send(self, outgoing: Outgoing) -> Sent:
        payload = {
            "touser": outgoing.to,
            "template_id": outgoing.template_code,
            "data": {key: {"value": value} for key, value in outgoing.params.items()},
            "client_msg_id": outgoing.key[:64],
        }
        if outgoing.link:
            payload["url"] = outgoing.link
        # wechatpy's message.send_template has no client_msg_id: the same endpoint, posted.
        result = self._call("post", "message/template/send", data=payload)
        return Sent(provider_id=str(result.get("msgid", "")))

    def template_variables(self, code: str) -> list[str]:
        """The data keys of one of the account's templates, in order ({{thing1.DATA}} …)."""
        result = self._call("get", "template/get_all_private_template")
        for template in result.get("template_list", []):
            if template.get("template_id") == code:
                return list(dict.fromkeys(TEMPLATE_KEY.findall(template.get("content", ""))))
        raise ProviderError(
            _("The Official Account has no template with the ID %(code)s.") % {"code": code},
            retryable=False,
            code="40037",
        )

    def qrcode_create(self, scene: str, *, days: int = QR_DAYS_MAX) -> str:
        """A temporary QR code whose scan tells us ``scene`` (QR_STR_SCENE, at most 64
        characters); returns what the code holds, which we draw ourselves."""
        result = self._call(
            "post",
            "qrcode/create",
            data={
                "expire_seconds": min(days, QR_DAYS_MAX) * 86400,
                "action_name": "QR_STR_SCENE",
                "action_info": {"scene": {"scene_str": scene}},
            },
        )
        return result["url"]

    def receipts_pull(self, pending: list[PendingReceipt]) -> list[Receipt]:
        return []  # WeChat pushes TEMPLATESENDJOBFINISH instead (callback_parse)

    def replies_pull(self) -> list[Reply]:
        return []

    def callback_parse(self, kind: str, body: bytes) -> list[Receipt | Reply]:
        """A TEMPLATESENDJOBFINISH push as a delivery receipt ("success", or "failed:user
        block" / "failed: system failed"); other pushes carry none."""
        try:
            event = parse_message(body)
        except Exception as exc:  # xmltodict's ExpatError, a missing MsgType …
            raise ValueError("not a WeChat push") from exc
        if not isinstance(event, TemplateSendJobFinishEvent):
            return []
        status = (event.status or "").strip()
        return [
            Receipt(
                provider_id=str(event.id),
                delivered=status == "success",
                error="" if status == "success" else status,
                at=event.create_time,
            )
        ]

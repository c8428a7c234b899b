"""A WeChat Official Account API on 127.0.0.1 for the tests: the calls we make (token,
qrcode/create, message/template/send, template/get_all_private_template) with WeChat's
response shapes and error codes, access tokens that expire when the test says so, followers
who can unfollow, client_msg_id honoured as WeChat does, and scripted failures. It also
builds the XML events WeChat pushes to a clinic's callback, signed with the clinic's Token."""

import hashlib
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

APP_ID = "wx1234567890abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "clinicToken123"

# The templates of the fake account: id → content, as WeChat lists them.
TEMPLATES = {
    "TPL-SURVEY": "{{thing1.DATA}}\n就诊人：{{thing2.DATA}}\n回访：{{thing3.DATA}}",
    "TPL-FOLLOWUP": "{{thing1.DATA}}\n就诊人：{{thing2.DATA}}\n复诊：{{time3.DATA}}",
}


class FakeWeChat:
    def __init__(self, app_id=APP_ID, app_secret=APP_SECRET):
        self.app_id = app_id
        self.app_secret = app_secret
        self.templates = dict(TEMPLATES)
        self.followers: set[str] = set()
        self.tokens: set[str] = set()  # access tokens still valid
        self.token_requests = 0
        self.qrcodes: list[dict] = []  # {"scene": …, "url": …, "expire_seconds": …}
        self.sent: list[dict] = []  # template messages WeChat took
        self.send_requests = 0
        self.script: list[int] = []  # per template send: an errcode to answer instead
        self._by_client_msg_id: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, None)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                fake._handle(self, json.loads(self.rfile.read(length) or b"{}"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Closing does not wait for a client's kept-alive connection to end (the product keeps
        # its provider connections open, as it should).
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- what a test does to the "world" ------------------------------------------------

    def follow(self, openid: str) -> None:
        self.followers.add(openid)

    def unfollow(self, openid: str) -> None:
        self.followers.discard(openid)

    def expire_tokens(self) -> None:
        """Every access token handed out so far is refused from now on (42001)."""
        with self._lock:
            self.tokens.clear()

    # --- the API ----------------------------------------------------------------------------

    def _reply(self, handler, body: dict, status: int = 200):
        data = json.dumps(body, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; encoding=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler, code: int, message: str):
        return self._reply(handler, {"errcode": code, "errmsg": f"{message} rid: fake"})

    def _handle(self, handler, body):
        url = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        path = url.path.removeprefix("/cgi-bin/")
        if path == "token":
            return self._token(handler, query)
        if query.get("access_token") not in self.tokens:
            return self._error(handler, 42001, "access_token expired")
        if path == "qrcode/create":
            return self._qrcode(handler, body)
        if path == "message/template/send":
            return self._send(handler, body)
        if path == "template/get_all_private_template":
            listed = [
                {"template_id": key, "title": key, "content": content}
                for key, content in self.templates.items()
            ]
            return self._reply(handler, {"template_list": listed})
        return self._error(handler, 48001, "api unauthorized")

    def _token(self, handler, query):
        with self._lock:
            self.token_requests += 1
        if query.get("grant_type") != "client_credential":
            return self._error(handler, 40002, "invalid grant_type")
        if query.get("appid") != self.app_id:
            return self._error(handler, 40013, "invalid appid")
        if query.get("secret") != self.app_secret:
            return self._error(handler, 40125, "invalid appsecret")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens.add(token)
        return self._reply(handler, {"access_token": token, "expires_in": 7200})

    def _qrcode(self, handler, body):
        scene = body.get("action_info", {}).get("scene", {}).get("scene_str", "")
        if body.get("action_name") not in ("QR_STR_SCENE", "QR_LIMIT_STR_SCENE"):
            return self._error(handler, 40053, "invalid action info")
        if not 1 <= len(scene) <= 64:
            return self._error(handler, 40053, "invalid scene_str")
        if body.get("expire_seconds", 0) > 2592000:
            return self._error(handler, 40053, "invalid expire_seconds")
        code = {
            "scene": scene,
            "url": f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}",
            "expire_seconds": body.get("expire_seconds", 60),
        }
        with self._lock:
            self.qrcodes.append(code)
        ticket = secrets.token_urlsafe(40)
        answer = {"ticket": ticket, "expire_seconds": code["expire_seconds"], "url": code["url"]}
        return self._reply(handler, answer)

    def _send(self, handler, body):
        with self._lock:
            self.send_requests += 1
            scripted = self.script.pop(0) if self.script else 0
        if scripted:
            return self._error(handler, scripted, "scripted")
        openid = body.get("touser", "")
        if openid not in self.followers:
            return self._error(handler, 43004, "require subscribe")
        content = self.templates.get(body.get("template_id", ""))
        if content is None:
            return self._error(handler, 40037, "invalid template_id")
        data = body.get("data", {})
        keys = set(data)
        wanted = set(re.findall(r"\{\{\s*(\w+)\.DATA\s*\}\}", content))
        if keys != wanted or not all(isinstance(v, dict) and "value" in v for v in data.values()):
            return self._error(handler, 47003, "argument invalid! data.keyword not match")
        for key, value in data.items():
            if key.startswith("thing") and len(value["value"]) > 20:
                return self._error(handler, 47003, f"argument invalid! data.{key}.value too long")
        client_msg_id = body.get("client_msg_id", "")
        with self._lock:
            if client_msg_id and (openid, client_msg_id) in self._by_client_msg_id:
                msgid = self._by_client_msg_id[(openid, client_msg_id)]
                return self._reply(handler, {"errcode": 0, "errmsg": "ok", "msgid": msgid})
            msgid = 2000000000 + len(self.sent) + 1
            self._by_client_msg_id[(openid, client_msg_id)] = msgid
            self.sent.append({**body, "msgid": msgid})
        return self._reply(handler, {"errcode": 0, "errmsg": "ok", "msgid": msgid})


# --- pushes to the clinic's callback ------------------------------------------------------


def signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature of a push: SHA1 of the Token, timestamp and nonce, sorted."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def signed_query(token: str = TOKEN, *, timestamp: int | None = None) -> dict:
    stamp = str(timestamp or int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    return {"signature": signature(token, stamp, nonce), "timestamp": stamp, "nonce": nonce}


def event_xml(
    openid: str,
    event: str,
    *,
    event_key: str | None = None,
    created: int | None = None,
    app_id: str = "gh_fakeaccount",
    extra: str = "",
) -> bytes:
    key = "" if event_key is None else f"<EventKey><![CDATA[{event_key}]]></EventKey>"
    return (
        f"<xml><ToUserName><![CDATA[{app_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"{key}{extra}</xml>"
    ).encode()

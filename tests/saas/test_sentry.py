"""Errors reach Sentry (SENTRY_DSN) without patient data: a fake Sentry ingest on 127.0.0.1
receives what the real SDK sends."""

import gzip
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from saas.sentry import event_scrub

ROOT = Path(__file__).resolve().parent.parent.parent
PATIENT = "欧阳娜娜"


def test_a_requests_query_string_cookies_body_and_user_details_are_not_sent():
    event = {
        "request": {
            "url": "https://alpha.followup.example/worklist/?q=%E6%AC%A7%E9%98%B3#top",
            "query_string": "q=%E6%AC%A7%E9%98%B3",
            "cookies": {"sessionid": "abc"},
            "data": {"name": PATIENT},
            "method": "GET",
        },
        "user": {"id": 7, "email": "agent@alpha.test", "username": "agent@alpha.test"},
        "extra": {"sys.argv": ["manage.py", "provision_tenant", "--admin-email", "x@y.test"]},
    }

    scrubbed = event_scrub(event)

    assert scrubbed["request"] == {
        "url": "https://alpha.followup.example/worklist/",
        "method": "GET",
    }
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["extra"] == {}


class _Ingest(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _Ingest.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def ingest():
    _Ingest.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_error_reaches_sentry_without_the_locals_that_held_a_patient(ingest):
    dsn = f"http://publickey@127.0.0.1:{ingest.server_address[1]}/1"
    script = (
        "import sentry_sdk\n"
        "def call(patient):\n"
        "    raise ValueError('the call failed')\n"
        "try:\n"
        f"    call('{PATIENT}')\n"
        "except ValueError:\n"
        "    sentry_sdk.capture_exception()\n"
        "sentry_sdk.flush(5)\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "saas.settings.local",
        "SENTRY_DSN": dsn,
        "SENTRY_RELEASE": "2026.12.1",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr.decode()[-2000:]
    sent = b"".join(_Ingest.received).decode()
    assert "the call failed" in sent
    assert '"release":"2026.12.1"' in sent.replace(" ", "")
    assert PATIENT not in sent
    assert "\\u6b27" not in sent.lower()  # nor escaped (the script is in sys.argv, too)

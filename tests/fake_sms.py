"""A Twilio-compatible SMS API on 127.0.0.1 for the tests: it speaks the one endpoint we
call (POST …/Accounts/{sid}/Messages.json with basic auth), honours the idempotency token
as Twilio does, and answers with whatever the test scripts (a status, or a delay)."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeSms:
    def __init__(self, account_sid="AC123", auth_token="secret-token"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[dict] = []  # messages the "network" delivered to phones
        self.requests = 0
        self.script: list = []  # per request: an HTTP status, or ("sleep", seconds)
        self._by_token: dict[str, str] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real provider's API
            # Headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every kept-alive response back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Closing does not wait for a client's kept-alive connection to end (the product keeps
        # its provider connections open, as it should).
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _reply(self, handler, status: int, body: dict):
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if handler.path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return self._reply(handler, 404, {"message": "not found"})
        if handler.headers.get("Authorization") != expected:
            return self._reply(handler, 401, {"message": "Authenticate"})
        with self._lock:
            self.requests += 1
            step = self.script.pop(0) if self.script else 201
        if isinstance(step, tuple) and step[0] == "sleep":
            time.sleep(step[1])
            step = 201
        if step != 201:
            return self._reply(handler, step, {"message": f"scripted {step}"})
        token = handler.headers.get("I-Twilio-Idempotency-Token", "")
        with self._lock:
            if token and token in self._by_token:  # a retry of a request already taken
                return self._reply(handler, 201, {"sid": self._by_token[token], "status": "queued"})
            sid = f"SM{len(self.sent) + 1:032d}"
            self._by_token[token] = sid
            self.sent.append({**form, "sid": sid, "token": token})
        return self._reply(handler, 201, {"sid": sid, "status": "queued"})

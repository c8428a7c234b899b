"""A clinic's webhook receiver on 127.0.0.1 for the tests: records what it is sent and
answers as the test scripts it (a status, ("sleep", seconds) to time out, or ("redirect",
url) for a 302)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeReceiver:
    def __init__(self):
        self.received: list[dict] = []
        self.script: list = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                step = fake.script.pop(0) if fake.script else 200
                location = None
                if isinstance(step, tuple) and step[0] == "redirect":
                    step, location = 302, step[1]
                elif isinstance(step, tuple):
                    time.sleep(step[1])
                    step = 200
                fake.received.append({"headers": self.headers, "body": body})  # case-insensitive
                self.send_response(step)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/carebridge"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

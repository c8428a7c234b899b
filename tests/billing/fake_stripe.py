"""A small fake of the Stripe API on 127.0.0.1, speaking exactly the endpoints CareBridge
calls (customers, Checkout sessions, customer-portal sessions) the way Stripe does: form-
encoded requests with a Bearer secret key, JSON objects or Stripe's error envelope back.
The real SDK and its real HTTP client talk to it; nothing of ours is patched.

It also plays Stripe's hosted checkout page: GET /pay/<session> shows a "Pay" button, and
paying sends the events Stripe would send (checkout.session.completed,
customer.subscription.created, invoice.paid), signed with the webhook secret, to the
configured webhook URL, then redirects to the session's success_url.

``localstripe`` (PyPI) was the first candidate; its last release predates the API versions
the current SDK sends (subscription periods on items, invoice ``parent``), so it cannot
serve stripe 16."""

import html
import itertools
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

from tests.billing import stripe_events

SECRET_KEY = "sk_test_carebridge"


def _nest(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (line_items[0][price]=x) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    """Dicts keyed 0, 1, 2 … are lists."""
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class FakeStripe:
    def __init__(self, port: int = 0):
        self.requests: list[tuple[str, str, dict]] = []
        self.customers: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        self.idempotency: dict[str, dict] = {}
        self.fail_next: int | None = None  # HTTP status to answer the next API call with
        self.webhook_url: str | None = None
        self.webhook_secret = "whsec_test_carebridge"
        self.prices: dict[str, str] = {}  # price id -> interval, for the events of a payment
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._get(self)

            def do_POST(self):
                fake._post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeStripe":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_fake{next(self._ids):06d}"

    # --- HTTP -------------------------------------------------------------------------

    @staticmethod
    def _json(handler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", "req_fake")
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _error(handler, status: int, message: str, kind: str = "invalid_request_error"):
        FakeStripe._json(handler, status, {"error": {"type": kind, "message": message}})

    def _post(self, handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        path = urlparse(handler.path).path
        if path.startswith("/pay/"):
            return self._pay(handler, path.removeprefix("/pay/"))
        if handler.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return self._error(handler, 401, "Invalid API Key provided.")
        params = _nest(parse_qsl(raw, keep_blank_values=True))
        self.requests.append(("POST", path, params))
        if self.fail_next:
            status, self.fail_next = self.fail_next, None
            return self._error(handler, status, "Fake outage.", "api_error")
        key = handler.headers.get("Idempotency-Key")
        if key and key in self.idempotency:
            return self._json(handler, 200, self.idempotency[key])
        routes = {
            "/v1/customers": self._customer_create,
            "/v1/checkout/sessions": self._checkout_create,
            "/v1/billing_portal/sessions": self._portal_create,
        }
        route = routes.get(path)
        if route is None:
            return self._error(handler, 404, f"Unrecognized request URL (POST: {path}).")
        status, body = route(params)
        if key and status == 200:
            self.idempotency[key] = body
        self._json(handler, status, body)

    def _get(self, handler) -> None:
        path = urlparse(handler.path).path
        if path.startswith("/pay/") and path.removeprefix("/pay/") in self.sessions:
            session = self.sessions[path.removeprefix("/pay/")]
            page = (
                "<!doctype html><title>Fake Stripe Checkout</title>"
                f"<h1>Pay {html.escape(session['line_items'][0]['price'])}</h1>"
                f"<form method=post action='/pay/{session['id']}'>"
                "<button type=submit id=pay>Pay</button></form>"
            ).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return
        self._error(handler, 404, f"Unrecognized request URL (GET: {path}).")

    # --- API objects ------------------------------------------------------------------

    def _customer_create(self, params):
        customer = {
            "id": self.new_id("cus"),
            "object": "customer",
            "name": params.get("name"),
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return 200, customer

    def _checkout_create(self, params):
        customer = params.get("customer")
        if customer not in self.customers:
            return 400, {"error": {"type": "invalid_request_error",
                                   "message": f"No such customer: '{customer}'"}}  # fmt: skip
        line_items = params.get("line_items") or []
        if not line_items or line_items[0].get("price") not in self.prices:
            price = line_items[0].get("price") if line_items else None
            return 400, {"error": {"type": "invalid_request_error",
                                   "message": f"No such price: '{price}'"}}  # fmt: skip
        session_id = self.new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode"),
            "customer": customer,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "line_items": line_items,
            "subscription_data": params.get("subscription_data", {}),
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return 200, session

    def _portal_create(self, params):
        customer = params.get("customer")
        if customer not in self.customers:
            return 400, {"error": {"type": "invalid_request_error",
                                   "message": f"No such customer: '{customer}'"}}  # fmt: skip
        portal = {
            "id": self.new_id("bps"),
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": params.get("return_url"),
            "url": f"{self.url}/portal/{customer}",
        }
        self.portal_sessions[portal["id"]] = portal
        return 200, portal

    # --- The hosted checkout page -----------------------------------------------------

    def payment_events(self, session_id: str) -> list[dict]:
        """The events Stripe sends when this checkout is paid."""
        session = self.sessions[session_id]
        session.update(status="complete", payment_status="paid")
        price = session["line_items"][0]["price"]
        sub = stripe_events.subscription(
            sub_id=self.new_id("sub"),
            customer=session["customer"],
            price=price,
            interval=self.prices[price],
            status="active",
        )
        session["subscription"] = sub["id"]
        return [
            stripe_events.event("checkout.session.completed", dict(session)),
            stripe_events.event("customer.subscription.created", sub),
            stripe_events.event(
                "invoice.paid",
                stripe_events.invoice(customer=session["customer"], subscription=sub["id"]),
            ),
        ]

    def _pay(self, handler, session_id: str) -> None:
        if session_id not in self.sessions:
            return self._error(handler, 404, "No such checkout session.")
        for event in self.payment_events(session_id):
            self.deliver(event)
        handler.send_response(303)
        handler.send_header("Location", self.sessions[session_id]["success_url"])
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def deliver(self, event: dict) -> int:
        payload = json.dumps(event)
        request = urllib.request.Request(
            self.webhook_url,
            data=payload.encode(),
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_events.sign(payload, self.webhook_secret),
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status


def main() -> None:
    """Run the fake for a local demo: ``python -m tests.billing.fake_stripe --port 8102
    --webhook http://localhost:8101/billing/stripe/webhook/`` (see README, Billing)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--webhook", required=True, help="our webhook URL on BASE_DOMAIN")
    parser.add_argument(
        "--price", action="append", default=[], metavar="PRICE_ID:INTERVAL",
        help="a price the fake sells, e.g. price_starter_month:month (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    fake = FakeStripe(port=args.port)
    fake.webhook_url = args.webhook
    for spec in args.price:
        price, _sep, interval = spec.partition(":")
        fake.prices[price] = interval or "month"
    print(f"Fake Stripe on {fake.url}; webhooks to {fake.webhook_url}", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()

"""Stripe events as Stripe sends them (API version of the SDK: subscription periods on the
items, an invoice's subscription under ``parent``), and Stripe's signature scheme:
``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>``."""

import hashlib
import hmac
import itertools
import time

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}_test{next(_ids):06d}{int(time.time() * 1000) % 100000:05d}"


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(kind: str, obj: dict, *, created: int | None = None, event_id: str | None = None):
    return {
        "id": event_id or next_id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "type": kind,
        "livemode": False,
        "pending_webhooks": 1,
        "data": {"object": obj},
    }


def subscription(
    *, customer: str, price: str, interval: str = "month", status: str = "active",
    sub_id: str | None = None, period_end: int | None = None, cancel_at_period_end=False,
) -> dict:  # fmt: skip
    sub_id = sub_id or next_id("sub")
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": next_id("si"),
                    "object": "subscription_item",
                    "subscription": sub_id,
                    "current_period_start": int(time.time()),
                    "current_period_end": period_end or int(time.time()) + 30 * 86400,
                    "price": {
                        "id": price,
                        "object": "price",
                        "recurring": {"interval": interval, "interval_count": 1},
                    },
                    "quantity": 1,
                }
            ],
        },
        "metadata": {},
    }


def invoice(*, customer: str, subscription: str | None, status: str = "paid") -> dict:
    return {
        "id": next_id("in"),
        "object": "invoice",
        "customer": customer,
        "status": status,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription, "metadata": {}},
        }
        if subscription
        else None,
    }


def checkout_session(*, customer: str, tenant_id, paid: bool = True) -> dict:
    return {
        "id": next_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": str(tenant_id),
        "status": "complete",
        "payment_status": "paid" if paid else "unpaid",
        "subscription": next_id("sub"),
        "metadata": {"tenant_id": str(tenant_id)},
    }

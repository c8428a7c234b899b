"""Verify a webhook delivery with the SDK and store the event by its id, once."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from ..models import WebhookEvent


class InvalidWebhook(Exception):
    """Bad signature, stale timestamp or a body that is not an event: nothing is stored."""


@dataclass(frozen=True)
class Received:
    event: WebhookEvent
    new: bool


def webhook_verify(payload: bytes, signature: str | None) -> dict:
    """The event as a plain dict, if Stripe signed this body with our secret within the
    SDK's tolerance (5 minutes)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidWebhook("STRIPE_WEBHOOK_SECRET is not set.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook("signature") from exc
    except ValueError as exc:
        raise InvalidWebhook("payload") from exc
    data = event.to_dict()
    if not (isinstance(data.get("id"), str) and data.get("type") and "data" in data):
        raise InvalidWebhook("payload")
    return data


@transaction.atomic
def webhook_store(data: dict) -> Received:
    """Insert the event unless its id is known; a redelivery only counts the delivery."""
    created = datetime.fromtimestamp(int(data.get("created") or 0), tz=UTC)
    with connection.cursor() as cursor:
        # One statement decides which of two simultaneous deliveries stores the event.
        cursor.execute(
            "INSERT INTO billing_webhookevent (stripe_id, type, created, payload,"
            " received_at, deliveries, outcome, last_error)"
            " VALUES (%s, %s, %s, %s, now(), 1, '', '')"
            " ON CONFLICT (stripe_id) DO NOTHING RETURNING id",
            [data["id"], data["type"][:100], created, json.dumps(data)],
        )
        is_new = cursor.fetchone() is not None
    if not is_new:
        WebhookEvent.objects.filter(stripe_id=data["id"]).update(deliveries=F("deliveries") + 1)
    event = WebhookEvent.objects.get(stripe_id=data["id"])
    return Received(event=event, new=is_new)

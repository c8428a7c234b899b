"""Outbound webhooks: the clinic's systems are told when a follow-up is completed, a
complaint is created or overdue, or a survey is answered.

As with the outbox (crm.services.outbox): a delivery row is written in the transaction that
causes the event and sent by a worker after it commits; a delivery is taken by one
conditional UPDATE, so a redelivered task never posts twice at once; a failure (timeout,
connection refused, any non-2xx answer) is retried with a growing delay, and after the last
attempt the delivery is kept as failed with its response code and can be sent again from the
page. Nothing is deleted.

Signature: the Standard Webhooks convention (standardwebhooks.com), so that a receiver can
check it with an off-the-shelf verifier: ``webhook-id`` (the event's id, the same on every
retry and resend: receivers drop what they have seen), ``webhook-timestamp`` (unix seconds)
and ``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed with the
base64 part of the endpoint's ``whsec_`` secret. The older ``CareBridge-Signature: t=<unix
time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the whole secret as text>`` is sent too for
one more release (deprecated). The secret must be stored readable (it signs), so it is shown
to the administrator when the endpoint is made and kept server-side only."""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from billing import entitlements
from saas import clock
from saas.celery import enqueue_on_commit

from ..models import WebhookDelivery, WebhookEndpoint
from .outbox import retry_delay

Status = WebhookDelivery.Status
Event = WebhookEndpoint.Event

MAX_ATTEMPTS = 6  # 1 + retries after 1, 2, 4, 8, 16 minutes (each up to a fifth more)
STALE_SENDING = timedelta(minutes=10)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The deprecated CareBridge-Signature header's value (until the next release)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def secret_new() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64. (Secrets made
    before were ``whsec_`` and 48 hex digits, which read as base64 too: they sign alike.)"""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, event_id: str, body: bytes) -> dict[str, str]:
    timestamp = clock.now()
    epoch = int(timestamp.timestamp())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(epoch),
        "webhook-signature": Webhook(secret).sign(event_id, timestamp, body),
        "CareBridge-Signature": signature(secret, epoch, body),
    }


def address_allowed(url: str) -> bool:
    """Whether the URL's host resolves to public addresses only (or private ones are allowed
    by settings). Checked when the endpoint is made and again before each post."""
    return _address_checked(urlsplit(url).hostname or "") is not None


def _address_checked(host: str) -> str | None:
    """The address to post to: the host resolved once, every address it has public (else
    None). The post connects to this very address, so a DNS answer that changes between
    the check and the connection (DNS rebinding) cannot point it at our own network."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None
    addresses = [info[4][0].split("%", 1)[0] for info in infos]
    if not addresses:
        return None
    if not settings.WEBHOOK_ALLOW_PRIVATE and not all(
        ipaddress.ip_address(address).is_global for address in addresses
    ):
        return None
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked address, the URL's host in the Host header."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified for the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


@transaction.atomic
def webhook_endpoint_create(*, url: str, events: list[str]) -> WebhookEndpoint:
    url = (url or "").strip()
    errors = {}
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        errors["url"] = _("Enter the full address, starting with https://.")
    else:
        if not address_allowed(url):
            errors["url"] = _("This address is not reachable from the internet.")
    if not events or set(events) - set(Event.values):
        errors["events"] = _("Choose at least one event.")
    if errors:
        raise ValidationError(errors)
    return WebhookEndpoint.objects.create(url=url, events=sorted(set(events)), secret=secret_new())


def webhook_endpoint_disable(endpoint: WebhookEndpoint) -> None:
    """No new deliveries; the log stays."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)


def webhook_emit(event: str, data: dict, *, now=None) -> list[int]:
    """Queue the event for every active endpoint that chose it, sent once the caller's
    transaction commits. Data carries ids and codes, no personal details."""

    if not entitlements.feature_allowed(connection.tenant, "webhooks"):
        return []  # the plan has no webhooks: the endpoints stay, nothing is queued
    now = now or clock.now()
    event_id = uuid.uuid4().hex
    payload = json.loads(
        json.dumps(
            {"id": event_id, "type": event, "created_at": now, "data": data},
            cls=DjangoJSONEncoder,
        )
    )
    ids = []
    for endpoint in WebhookEndpoint.objects.filter(active=True, events__contains=[event]):
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=event, event_id=event_id, payload=payload, next_attempt_at=now
        )
        ids.append(delivery.pk)
        enqueue_on_commit("crm.tasks.webhook_deliver_task", delivery.pk)
    return ids


def _take(delivery_id: int, now) -> WebhookDelivery | None:
    taken = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(status=Status.SENDING, next_attempt_at=now)  # "sending since", for the stale check
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """(HTTP status or None, error text). Redirects are not followed: a receiver's 302 could
    send the post, signed, into our own network."""
    target = urlsplit(endpoint.url)
    address = _address_checked(target.hostname or "")
    if address is None:
        return None, "address not reachable from the internet (refused)"
    secure = target.scheme == "https"
    pinned = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    post = pinned(
        target.hostname,
        target.port or (443 if secure else 80),
        address=address,
        timeout=settings.WEBHOOK_TIMEOUT,
    )
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CareBridge-Webhooks/1",
        "CareBridge-Event": delivery.event,
        "CareBridge-Delivery": str(delivery.pk),
        **signed_headers(endpoint.secret, delivery.event_id, body),
    }
    try:
        post.request("POST", path, body=body, headers=headers)
        status = post.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return None, str(exc)[:300] or exc.__class__.__name__
    finally:
        post.close()
    if 300 <= status < 400:
        return status, f"HTTP {status}: redirects are not followed"
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def webhook_deliver(delivery_id: int, *, now=None) -> str | None:
    """Post one due delivery; returns its new status (None if it was not due or taken)."""
    now = now or clock.now()
    delivery = _take(delivery_id, now)
    if delivery is None:
        return None
    code, error = _post(delivery.endpoint, delivery)
    delivery.attempts += 1
    delivery.response_code = code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.error, delivery.delivered_at = Status.DELIVERED, "", now
        delivery.next_attempt_at = None
    else:
        delivery.error = error
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        else:
            delivery.status = Status.PENDING
            delivery.next_attempt_at = now + retry_delay(delivery.attempts, key=delivery.pk)
    delivery.save(
        update_fields=[
            "attempts",
            "response_code",
            "status",
            "error",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery.status


def webhooks_due(*, now=None) -> list[int]:
    """Deliveries whose retry time has come; ones left "sending" by a worker that died go
    back to the queue first."""
    now = now or clock.now()
    WebhookDelivery.objects.filter(
        status=Status.SENDING, next_attempt_at__lt=now - STALE_SENDING
    ).update(status=Status.PENDING)
    return list(
        WebhookDelivery.objects.filter(
            Q(status=Status.PENDING), next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:1000]
    )


def webhook_replay(delivery: WebhookDelivery, *, now=None) -> None:
    """Send a delivery again (failed, or delivered but lost by the receiver), at once."""

    now = now or clock.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=Status.SENDING).update(
        status=Status.PENDING, attempts=0, next_attempt_at=now, error=""
    )
    enqueue_on_commit("crm.tasks.webhook_deliver_task", delivery.pk)


# --- The events, as the domain's services announce them -----------------------------------


def followup_completed(task, *, now=None) -> None:
    encounter = task.encounter
    webhook_emit(
        Event.FOLLOWUP_COMPLETED,
        {
            "task_id": task.pk,
            "encounter_id": task.encounter_id,
            "source": encounter.source,
            "external_id": encounter.external_id,
            "contact_id": task.contact_id,
            "name": task.name,
            "completed_at": task.completed_at or now,
            "last_outcome": task.last_outcome,
        },
        now=now,
    )


def _complaint_data(complaint) -> dict:
    return {
        "complaint_id": complaint.pk,
        "kind": complaint.kind,
        "source": complaint.source,
        "category": complaint.category,
        "severity": complaint.severity,
        "status": complaint.status,
        "contact_id": complaint.contact_id,
        "encounter_id": complaint.encounter_id,
        "task_id": complaint.task_id,
        "department_id": complaint.department_id,
        "deadline": complaint.deadline,
    }


def complaint_created(complaint, *, now=None) -> None:
    webhook_emit(Event.COMPLAINT_CREATED, _complaint_data(complaint), now=now)


def complaint_overdue(complaint, *, now=None) -> None:
    webhook_emit(Event.COMPLAINT_OVERDUE, _complaint_data(complaint), now=now)


# Numbers are figures, not what the patient said; texts, choices and praised staff stay here.
NUMERIC_KINDS = ("rating", "nps", "yes_no")


def survey_answered(response, values: dict, *, complaint=None, now=None) -> None:
    """A response came in by link, SMS reply, call page or API: its ids, score, satisfaction
    bucket and numeric answers (``values`` as validated by surveys.services.answers_parse)."""
    webhook_emit(
        Event.SURVEY_ANSWERED,
        {
            "response_id": response.pk,
            "template_id": response.template_id,
            "version": response.version.number,
            "source": response.source,
            "task_id": response.task_id,
            "encounter_id": response.encounter_id,
            "contact_id": response.contact_id,
            "department_id": response.department_id,
            "score": float(response.score) if response.score is not None else None,
            "nps": response.nps,
            "satisfaction": response.satisfaction,
            "submitted_at": response.submitted_at,
            "complaint_id": complaint.pk if complaint is not None else None,
            "answers": [
                {
                    "question": q["key"],
                    "kind": q["kind"],
                    "dimension": q["dimension"],
                    "number": values[q["key"]],
                }
                for q in response.version.questions
                if q["kind"] in NUMERIC_KINDS and q["key"] in values
            ],
        },
        now=now,
    )

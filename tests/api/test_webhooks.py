"""Outbound webhooks: registered by the administrator, signed, retried with backoff,
logged with response codes, marked failed after the last attempt, sent again on request."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from crm.models import FollowUpTask, OutcomeCode, WebhookDelivery, WebhookEndpoint
from crm.services import webhooks
from crm.services.feedback import complaint_open
from crm.services.followup import AttemptInput, attempt_log
from crm.services.planning import encounters_plan
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory, StaffFactory


@pytest.fixture(autouse=True)
def _local_receiver_allowed(settings):
    """The fake receiver listens on 127.0.0.1, which production refuses."""
    settings.WEBHOOK_ALLOW_PRIVATE = True


def endpoint_for(receiver, events=("complaint.created",)):
    return webhooks.webhook_endpoint_create(url=receiver.url, events=list(events))


def verify(secret, headers, body):
    parts = dict(p.split("=", 1) for p in headers["Carebridge-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(parts["v1"], expected.hexdigest())


def test_a_new_complaint_is_posted_signed(
    tenant_a, in_tenant, receiver, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        endpoint = endpoint_for(receiver)
        contact = ContactFactory()
        with django_capture_on_commit_callbacks(execute=True):
            complaint = complaint_open(summary="等了两个小时", source="phone_in", contact=contact)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.response_code, delivery.attempts) == (
            "delivered",
            200,
            1,
        )
    [request] = receiver.received
    assert verify(endpoint.secret, request["headers"], request["body"])
    assert not verify("whsec_wrong", request["headers"], request["body"])
    payload = json.loads(request["body"])
    assert payload["type"] == "complaint.created"
    assert payload["data"]["complaint_id"] == complaint.pk
    assert payload["data"]["contact_id"] == contact.pk
    # Ids and codes only: what the patient said stays in CareBridge.
    assert "等了两个小时" not in request["body"].decode()


def test_deliveries_verify_with_a_standard_webhooks_verifier_the_same_id_on_every_retry(
    tenant_a, in_tenant, receiver, clock
):
    receiver.script = [500]
    with in_tenant(tenant_a):
        endpoint = endpoint_for(receiver)
        # An endpoint made before the convention: its secret is 48 hex digits after whsec_.
        legacy = endpoint_for(receiver)
        WebhookEndpoint.objects.filter(pk=legacy.pk).update(secret="whsec_" + "0a1b2c" * 8)
        legacy.refresh_from_db()
        complaint_open(summary="x", source="phone_in")
        first, second = WebhookDelivery.objects.order_by("endpoint_id")
        webhooks.webhook_deliver(first.pk)  # refused with a 500: retried later
        clock.shift(timedelta(minutes=2))
        webhooks.webhook_deliver(first.pk)
        webhooks.webhook_deliver(second.pk)

    retried, delivered, to_legacy = receiver.received
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) == 50
    for request, secret in ((retried, endpoint.secret), (delivered, endpoint.secret)):
        headers = dict(request["headers"].items())
        assert Webhook(secret).verify(request["body"], headers)["type"] == "complaint.created"
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(request["body"] + b" ", headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(webhooks.secret_new()).verify(request["body"], headers)
    assert Webhook(legacy.secret).verify(to_legacy["body"], dict(to_legacy["headers"].items()))
    # Receivers drop what they have seen by its id: a retry carries the event's own.
    assert retried["headers"]["webhook-id"] == delivered["headers"]["webhook-id"]
    assert delivered["headers"]["webhook-id"] == json.loads(delivered["body"])["id"]
    assert int(delivered["headers"]["webhook-timestamp"]) - int(
        retried["headers"]["webhook-timestamp"]
    ) in range(120, 125)
    # The deprecated header is still sent, this release.
    assert verify(endpoint.secret, delivered["headers"], delivered["body"])


def test_a_completed_follow_up_is_posted(
    tenant_a, in_tenant, receiver, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        endpoint_for(receiver, events=["followup.completed"])
        encounter = EncounterFactory(
            source="his", external_id="ZY-7", occurred_at=timezone.now() - timedelta(days=3)
        )
        encounters_plan([encounter.pk])
        task = FollowUpTask.objects.get(encounter=encounter)
        agent = StaffFactory(role="agent")
        reached = OutcomeCode.objects.filter(category="reached").first()
        with django_capture_on_commit_callbacks(execute=True):
            attempt_log(task, agent, AttemptInput(outcome=reached, notes="好"))
    [request] = receiver.received
    payload = json.loads(request["body"])
    assert (payload["type"], payload["data"]["task_id"], payload["data"]["external_id"]) == (
        "followup.completed",
        task.pk,
        "ZY-7",
    )


def test_a_failing_endpoint_is_retried_with_backoff_then_marked_failed(
    tenant_a, in_tenant, receiver
):
    receiver.script = [500] * 10
    with in_tenant(tenant_a):
        endpoint_for(receiver)
        complaint_open(summary="x", source="phone_in")
        delivery = WebhookDelivery.objects.get()
        now = timezone.now()
        assert webhooks.webhook_deliver(delivery.pk, now=now) == "pending"
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.response_code) == (1, 500)
        waited = delivery.next_attempt_at - now  # a minute, and up to a fifth more
        assert timedelta(minutes=1) <= waited <= timedelta(minutes=1, seconds=12)
        # Not due yet: nothing is sent.
        assert webhooks.webhook_deliver(delivery.pk, now=now) is None
        assert webhooks.webhooks_due(now=now) == []
        for attempt in range(2, webhooks.MAX_ATTEMPTS + 1):
            now = delivery.next_attempt_at
            assert webhooks.webhooks_due(now=now) == [delivery.pk]
            status = webhooks.webhook_deliver(delivery.pk, now=now)
            delivery.refresh_from_db()
            assert delivery.attempts == attempt
        assert (status, delivery.next_attempt_at, delivery.error) == ("failed", None, "HTTP 500")
        # Nothing lost: the delivery and its payload stay, and can be sent again.
        receiver.script = []
        webhooks.webhook_replay(delivery)
        assert webhooks.webhook_deliver(delivery.pk) == "delivered"
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS + 1


def test_an_endpoint_that_times_out_is_retried(tenant_a, in_tenant, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    receiver.script = [("sleep", 1)]
    with in_tenant(tenant_a):
        endpoint_for(receiver)
        complaint_open(summary="x", source="phone_in")
        delivery = WebhookDelivery.objects.get()
        assert webhooks.webhook_deliver(delivery.pk) == "pending"
        delivery.refresh_from_db()
        assert delivery.response_code is None
        assert "timed out" in delivery.error
        assert webhooks.webhook_deliver(delivery.pk, now=delivery.next_attempt_at) == "delivered"


def test_no_delivery_for_events_not_chosen_or_disabled_endpoints(tenant_a, in_tenant, receiver):
    with in_tenant(tenant_a):
        endpoint_for(receiver, events=["followup.completed"])
        webhooks.webhook_endpoint_disable(endpoint_for(receiver))
        complaint_open(summary="x", source="phone_in")
        assert not WebhookDelivery.objects.exists()


def test_admin_registers_an_endpoint_sees_deliveries_and_replays(
    admin_client_a, tenant_a, in_tenant, receiver, django_capture_on_commit_callbacks
):
    client = in_english(admin_client_a)
    response = client.post(
        "/settings/webhooks/", {"url": receiver.url, "events": ["complaint.created"]}
    )
    assert response.status_code == 200
    secret = response.context["new_endpoint"].secret
    assert secret in response.content.decode()
    assert secret not in client.get("/settings/webhooks/").content.decode()
    with in_tenant(tenant_a):
        complaint_open(summary="x", source="phone_in")
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status="failed", attempts=6, response_code=500
        )
    page = client.get("/settings/webhooks/").content.decode()
    assert "Complaint created" in page and "500" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/settings/webhooks/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 302
    with in_tenant(tenant_a):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("delivered", 1)
    bad = client.post("/settings/webhooks/", {"url": "not a url", "events": []})
    assert set(bad.context["form"].errors) == {"url", "events"}


def test_tenant_b_sees_no_endpoint_or_delivery_of_tenant_a(
    admin_client_b, tenant_a, in_tenant, receiver
):
    with in_tenant(tenant_a):
        endpoint = endpoint_for(receiver)
        complaint_open(summary="x", source="phone_in")
        delivery = WebhookDelivery.objects.get()
    page = admin_client_b.get("/settings/webhooks/").content.decode()
    assert receiver.url not in page
    assert (
        admin_client_b.post(f"/settings/webhooks/deliveries/{delivery.pk}/replay/").status_code
        == 404
    )
    assert admin_client_b.post(f"/settings/webhooks/{endpoint.pk}/disable/").status_code == 404
    with in_tenant(tenant_a):
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).active


def test_a_plan_without_webhooks_queues_nothing(tenant_a, in_tenant, receiver, account_a, plans):
    from billing.models import BillingAccount

    BillingAccount.objects.filter(pk=account_a.pk).update(plan=plans["starter"])
    with in_tenant(tenant_a):
        endpoint_for(receiver)
        complaint_open(summary="x", source="phone_in")
        assert not WebhookDelivery.objects.exists()


def test_private_addresses_are_refused(tenant_a, in_tenant, receiver, settings):
    with in_tenant(tenant_a):
        endpoint = endpoint_for(receiver)
        settings.WEBHOOK_ALLOW_PRIVATE = False
        with pytest.raises(ValidationError) as refused:
            webhooks.webhook_endpoint_create(
                url="http://169.254.169.254/latest/meta-data", events=["complaint.created"]
            )
        assert list(refused.value.message_dict) == ["url"]
        # An endpoint made earlier whose host now resolves privately gets nothing either.
        complaint_open(summary="x", source="phone_in")
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert webhooks.webhook_deliver(delivery.pk) == "pending"
        delivery.refresh_from_db()
        assert delivery.error == "address not reachable from the internet (refused)"
    assert receiver.received == []


def test_a_redirect_is_not_followed(tenant_a, in_tenant, receiver):
    from tests.api.fake_receiver import FakeReceiver

    inside = FakeReceiver()  # what a 302 might point at: a service on our own network
    try:
        receiver.script = [("redirect", inside.url)]
        with in_tenant(tenant_a):
            endpoint_for(receiver)
            complaint_open(summary="x", source="phone_in")
            delivery = WebhookDelivery.objects.get()

            assert webhooks.webhook_deliver(delivery.pk) == "pending"  # retried later

            delivery.refresh_from_db()
            assert (delivery.response_code, delivery.error) == (
                302,
                "HTTP 302: redirects are not followed",
            )
        assert len(receiver.received) == 1 and inside.received == []
    finally:
        inside.close()


def test_the_post_goes_to_the_address_that_was_checked(
    tenant_a, in_tenant, receiver, settings, monkeypatch
):
    """DNS rebinding: the name answers a public address when checked, then 127.0.0.1. The
    post connects to the checked address (recorded here instead of leaving the machine)."""
    import socket

    with in_tenant(tenant_a):
        endpoint = endpoint_for(receiver)
        complaint_open(summary="x", source="phone_in")
        delivery = WebhookDelivery.objects.get()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            url="http://hooks.clinic.example:8443/hooks/carebridge"
        )
    answers = iter(["93.184.216.34", "127.0.0.1"])
    asked, connected = [], []

    def rebinding(host, *args, **kwargs):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 0))]

    def connect(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("refused by the test")

    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", connect)
    with in_tenant(tenant_a):
        webhooks.webhook_deliver(delivery.pk)
        delivery.refresh_from_db()

    assert asked == ["hooks.clinic.example"]  # resolved once, for the check
    assert connected == [("93.184.216.34", 8443)]  # and that very address was connected to
    assert (delivery.status, delivery.error) == ("pending", "refused by the test")
    assert receiver.received == []

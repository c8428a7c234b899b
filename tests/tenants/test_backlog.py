"""Each clinic's backlog: counted by its follow-up tick into its public ClinicBacklog row, and
served from there on web's /metrics labelled by schema name (never the clinic's name)."""

import socket
from datetime import timedelta

import pytest
import requests
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from crm.models import FollowUpRule, FollowUpTask, Message, WebhookDelivery, WebhookEndpoint
from crm.services.followup import followup_tick
from crm.services.planning import encounters_plan
from saas import metrics
from tenants import metrics as tenant_metrics
from tenants.models import ClinicBacklog, Tenant
from tests.clock import at
from tests.factories import EncounterFactory, RuleFactory

TOKEN = "metrics-token-for-tests"
NOW = at("2026-11-23 10:00")
CLINIC_FAMILIES = (
    "carebridge_clinic_outbox_queued",
    "carebridge_clinic_webhook_deliveries",
    "carebridge_clinic_followups_overdue",
)


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def queued_messages(count: int, *, sent: int = 0) -> None:
    for n in range(count + sent):
        Message.objects.create(
            channel="sms",
            purpose="follow_up",
            to=f"+8613800{n:06d}",
            body="回访提醒",
            send_after=NOW,
            status=Message.Status.QUEUED if n < count else Message.Status.SENT,
        )


def deliveries(**by_status_and_attempts: int) -> None:
    """deliveries(pending_0=1, pending_2=1, failed_8=1): count per status and attempts."""
    endpoint = WebhookEndpoint.objects.create(
        url="https://his.example/hooks", events=["followup.completed"], secret="whsec_test"
    )
    for key, count in by_status_and_attempts.items():
        status, attempts = key.rsplit("_", 1)
        for n in range(count):
            WebhookDelivery.objects.create(
                endpoint=endpoint,
                event="followup.completed",
                event_id=f"evt_{key}_{n}",
                payload={"task_id": n},
                status=status,
                attempts=int(attempts),
                next_attempt_at=NOW,
            )


def tasks(*, overdue: int = 0, not_due: int = 0, done_overdue: int = 0) -> None:
    """Open tasks due an hour ago and due tomorrow, and completed ones due an hour ago, each
    still inside its window (the tick closes nothing)."""
    FollowUpRule.objects.update(active=False)
    RuleFactory(steps=[{"offset_days": 3, "due_days": 7}])
    kinds = [("overdue", overdue), ("not_due", not_due), ("done", done_overdue)]
    for kind, count in kinds:
        for _n in range(count):
            encounter = EncounterFactory(occurred_at=NOW - timedelta(days=4))
            encounters_plan([encounter.pk], now=NOW)
            due_at = NOW + timedelta(days=1) if kind == "not_due" else NOW - timedelta(hours=1)
            FollowUpTask.objects.filter(encounter=encounter).update(
                due_at=due_at,
                closes_at=NOW + timedelta(days=7),
                **({"status": FollowUpTask.Status.COMPLETED} if kind == "done" else {}),
            )


def scrape() -> str:
    pod = Client(HTTP_HOST="10.1.2.3:8000")
    scraped = pod.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert scraped.status_code == 200
    return scraped.content.decode()


def samples(text: str) -> dict[tuple, float]:
    """{(name, clinic, state): value} of the clinics' families; state is "" where unused."""
    return {
        (sample.name, sample.labels["clinic"], sample.labels.get("state", "")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name in CLINIC_FAMILIES
        for sample in family.samples
    }


@pytest.mark.now("2026-11-23 10:00", tick=False)
def test_a_tick_records_its_clinics_backlog(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        queued_messages(1, sent=1)
        deliveries(pending_0=1, pending_2=1, failed_8=1, delivered_1=1)
        tasks(overdue=1, not_due=1, done_overdue=1)

        result = followup_tick()

    counts = {
        "outbox_queued": 1,
        "webhooks_retrying": 1,
        "webhooks_failed": 1,
        "followups_overdue": 1,
    }
    assert result.backlog == counts
    backlog = ClinicBacklog.objects.get(tenant=tenant_a)
    assert {name: getattr(backlog, name) for name in counts} == counts
    assert backlog.measured_at == NOW


@pytest.mark.now("2026-11-23 10:00", tick=False)
def test_the_next_tick_replaces_the_figures(tenant_a, in_tenant, clock):
    with in_tenant(tenant_a):
        queued_messages(2)
        followup_tick()
        Message.objects.update(status=Message.Status.SENT)
        clock.shift(timedelta(minutes=5))
        followup_tick()

    backlog = ClinicBacklog.objects.get(tenant=tenant_a)
    assert (backlog.outbox_queued, backlog.measured_at) == (0, NOW + timedelta(minutes=5))
    assert ClinicBacklog.objects.filter(tenant=tenant_a).count() == 1


def test_metrics_serve_each_clinics_own_figures_by_schema_name(
    tenant_a, tenant_b, in_tenant, token
):
    with in_tenant(tenant_b):
        queued_messages(3)
        deliveries(failed_5=2)
        followup_tick(now=NOW)
    beta_before = ClinicBacklog.objects.get(tenant=tenant_b)
    with in_tenant(tenant_a):
        queued_messages(1)
        deliveries(pending_1=4)
        tasks(overdue=2)
        followup_tick(now=NOW + timedelta(minutes=5))

    # Alpha's tick wrote alpha's row only.
    beta_after = ClinicBacklog.objects.get(tenant=tenant_b)
    assert (beta_after.outbox_queued, beta_after.webhooks_failed, beta_after.measured_at) == (
        beta_before.outbox_queued,
        beta_before.webhooks_failed,
        beta_before.measured_at,
    )
    text = scrape()
    assert samples(text) == {
        ("carebridge_clinic_outbox_queued", "alpha", ""): 1,
        ("carebridge_clinic_webhook_deliveries", "alpha", "retrying"): 4,
        ("carebridge_clinic_webhook_deliveries", "alpha", "failed"): 0,
        ("carebridge_clinic_followups_overdue", "alpha", ""): 2,
        ("carebridge_clinic_outbox_queued", "beta", ""): 3,
        ("carebridge_clinic_webhook_deliveries", "beta", "retrying"): 0,
        ("carebridge_clinic_webhook_deliveries", "beta", "failed"): 2,
        ("carebridge_clinic_followups_overdue", "beta", ""): 0,
    }
    for name in (tenant_a.name, tenant_b.name, "人民医院", "Dental"):
        assert name not in text
    # The process figures are still there, and the broker's queue is read too (memory://).
    assert "carebridge_http_requests_total" in text
    assert 'carebridge_celery_queue_messages{queue="celery"}' in text


def test_a_suspended_clinic_is_not_shown(tenant_a, tenant_b, in_tenant, token):
    for tenant in (tenant_a, tenant_b):
        with in_tenant(tenant):
            queued_messages(1)
            followup_tick(now=NOW)
    Tenant.objects.filter(pk=tenant_b.pk).update(status=Tenant.Status.SUSPENDED)

    clinics = {clinic for _name, clinic, _state in samples(scrape())}

    assert "alpha" in clinics
    assert "beta" not in clinics


def test_a_scrape_reads_every_clinic_in_one_query(tenant_a, tenant_b, in_tenant):
    for tenant in (tenant_a, tenant_b):
        with in_tenant(tenant):
            followup_tick(now=NOW)

    with CaptureQueriesContext(connection) as scraped:
        families = list(metrics.scrape_registry().collect())

    assert {family.name for family in families} >= set(CLINIC_FAMILIES)
    # django-tenants sets the search path back to public lazily, at the first query.
    reads = [q["sql"] for q in scraped.captured_queries if not q["sql"].startswith("SET ")]
    assert len(reads) == 1


def test_a_database_out_of_reach_leaves_the_clinics_out_of_the_scrape(db, token, monkeypatch):
    def unreachable():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(tenant_metrics, "clinic_backlogs", unreachable)

    text = scrape()

    assert samples(text) == {}
    assert "carebridge_http_requests_total" in text


def test_a_workers_port_serves_no_clinic_or_queue_figures(tenant_a, in_tenant, token):
    with in_tenant(tenant_a):
        followup_tick(now=NOW)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.worker_metrics_serve(port)

    scraped = requests.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )

    assert scraped.status_code == 200
    assert "carebridge_celery_tasks_total" in scraped.text
    assert "carebridge_clinic_" not in scraped.text
    assert "carebridge_celery_queue_messages" not in scraped.text

"""Prometheus figures (saas/metrics.py): by view and task name, behind a token."""

import socket

import pytest
import requests
from django.test import Client
from prometheus_client import REGISTRY

from saas import metrics
from saas.celery import app as celery_app
from tests.conftest import login

TOKEN = "metrics-token-for-tests"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def test_metrics_answer_only_the_tokens_holder_on_any_host(db, token):
    pod = Client(HTTP_HOST="10.1.2.3:8000")

    assert pod.get("/metrics").status_code == 404
    assert pod.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    scraped = pod.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert scraped.status_code == 200
    assert b"carebridge_http_requests_total" in scraped.content


def test_without_a_token_metrics_answer_nobody(db, settings):
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_a_request_is_counted_by_view_with_its_time_and_queries(client_a, admin_a, tenant_a):
    login(client_a, "admin@alpha.test")
    labels = {"view": "worklist", "method": "GET"}
    before = (
        value("carebridge_http_requests_total", status="200", **labels),
        value("carebridge_http_request_duration_seconds_count", **labels),
        value("carebridge_db_queries_total", view="worklist"),
    )

    assert client_a.get("/worklist/").status_code == 200

    after = (
        value("carebridge_http_requests_total", status="200", **labels),
        value("carebridge_http_request_duration_seconds_count", **labels),
        value("carebridge_db_queries_total", view="worklist"),
    )
    assert after[:2] == (before[0] + 1, before[1] + 1)
    assert after[2] > before[2]  # the tenant lookup, the session, the user, the worklist


def test_a_task_is_counted_by_name_and_outcome(db):
    @celery_app.task(name="tests.metrics_probe_task")
    def probe(fail: bool):
        if fail:
            raise ValueError("probe failure")
        return "done"

    name = "tests.metrics_probe_task"
    succeeded = value("carebridge_celery_tasks_total", task=name, outcome="succeeded")
    failed = value("carebridge_celery_tasks_total", task=name, outcome="failed")
    timed = value("carebridge_celery_task_duration_seconds_count", task=name)

    probe.apply(args=(False,))
    probe.apply(args=(True,), throw=False)

    assert value("carebridge_celery_tasks_total", task=name, outcome="succeeded") == succeeded + 1
    assert value("carebridge_celery_tasks_total", task=name, outcome="failed") == failed + 1
    assert value("carebridge_celery_task_duration_seconds_count", task=name) == timed + 2


def test_a_worker_serves_its_figures_to_the_tokens_holder_only(token):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.worker_metrics_serve(port)

    anonymous = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    scraped = requests.get(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )

    assert anonymous.status_code == 404
    assert scraped.status_code == 200
    assert "carebridge_celery_tasks_total" in scraped.text

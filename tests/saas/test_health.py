"""Probes: /healthz (the process answers) and /readyz (database, cache and broker answer),
on any host and over plain HTTP, before tenant routing."""

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client

from saas.celery import app as celery_app
from saas.views import server_error

POD_ADDRESS = "10.1.2.3:8000"  # what a Kubernetes probe sends as Host: no clinic has it


@pytest.fixture
def broker(request):
    """Point the Celery app at another broker for one test."""
    before = celery_app.conf.broker_url

    def use(url):
        celery_app.conf.broker_url = url

    yield use
    celery_app.conf.broker_url = before


def test_liveness_answers_on_any_host_without_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client(HTTP_HOST=POD_ADDRESS).get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readiness_checks_database_cache_and_a_real_redis_broker(db, broker):
    broker("redis://127.0.0.1:6379/15")

    response = Client(HTTP_HOST=POD_ADDRESS).get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "Database(alias='default')": "OK",
        "Cache(alias='default')": "OK",
        "Broker()": "OK",
    }
    assert "no-cache" in response["Cache-Control"]


def test_readiness_names_the_broker_when_it_is_down(db, broker):
    broker("redis://127.0.0.1:1/0")  # nothing listens on port 1

    response = Client(HTTP_HOST=POD_ADDRESS).get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "Database(alias='default')": "OK",
        "Cache(alias='default')": "OK",
        "Broker()": "Unavailable: the Celery broker does not answer",
    }


def test_probes_are_not_redirected_to_https_nor_routed_to_a_clinic(db, settings, tenant_a):
    settings.SECURE_SSL_REDIRECT = True
    client = Client(HTTP_HOST=tenant_a.primary_host)

    assert client.get("/accounts/login/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert Client(HTTP_HOST=POD_ADDRESS).get("/accounts/login/").status_code == 404


def test_the_health_check_command_runs_the_readiness_checks(db, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("health_check", "readyz", "--no-http")

    assert exit_.value.code == 0
    assert capsys.readouterr().out.splitlines() == [
        "Database(alias='default'): OK",
        "Cache(alias='default'): OK",
        "Broker(): OK",
    ]


def test_the_error_page_says_503_when_the_database_is_out_of_reach(rf):
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        unavailable = server_error(rf.get("/worklist/"))
    try:
        raise ValueError("a bug")
    except ValueError:
        failed = server_error(rf.get("/worklist/"))

    assert (unavailable.status_code, unavailable["Retry-After"]) == (503, "30")
    assert "暂时无法访问" in unavailable.content.decode()
    assert failed.status_code == 500
    assert "Something went wrong" in failed.content.decode()

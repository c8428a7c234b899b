"""The queue itself: a real worker on a real kombu transport (the filesystem one, which needs
no server) runs a task in the schema of the tenant that sent it, and only there."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.core import mail
from django_tenants.utils import tenant_context

from crm.tasks import staff_invitation_email_task
from saas.celery import app, enqueue_on_commit
from tenants.models import Tenant
from tests.conftest import committed


@pytest.fixture
def filesystem_broker(tmp_path):
    """Point the app at a filesystem transport for one test, then restore it."""
    queue = tmp_path / "queue"
    queue.mkdir()
    saved = {
        key: app.conf[key]
        for key in ("task_always_eager", "broker_url", "broker_transport_options")
    }
    app.conf.update(
        task_always_eager=False,
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(tmp_path / "control"),
        },
    )
    _drop_cached_connections()
    yield
    app.conf.update(saved)
    _drop_cached_connections()


def _drop_cached_connections() -> None:
    # Celery caches its broker connection and producer pools on first use; a changed
    # broker_url only takes effect once they are dropped. (Not closed: kombu's global pool
    # registry would hand the closed pool back to the next user of the same URL.)
    app._pool = None
    app.amqp._producer_pool = None


def _invite_in(schema: str, email: str) -> int:
    with tenant_context(Tenant.objects.get(schema_name=schema)):
        return get_user_model().objects.create(username=email, email=email, password="!unusable").pk


def _remove_in(schema: str, user_id: int) -> None:
    with tenant_context(Tenant.objects.get(schema_name=schema)):
        get_user_model().objects.filter(pk=user_id).delete()


def _enqueue_from(schema: str, user_id: int, base_url: str) -> None:
    with tenant_context(Tenant.objects.get(schema_name=schema)):
        enqueue_on_commit(staff_invitation_email_task, user_id, base_url)


@pytest.fixture
def invited_in_alpha():
    """A committed invitation in alpha: the worker's own connection sees committed rows only."""
    user_id = committed(_invite_in, "alpha", "queue@alpha.test")
    yield user_id
    committed(_remove_in, "alpha", user_id)


def wait_for_mail(count: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.django_db
def test_a_task_runs_in_the_schema_it_was_sent_from_and_only_there(
    filesystem_broker, invited_in_alpha
):
    mail.outbox = []
    with start_worker(app, pool="solo", perform_ping_check=False):
        # Sent from beta with alpha's user id: beta has no such invitation, nothing is sent.
        committed(_enqueue_from, "beta", invited_in_alpha, "http://beta/")
        committed(_enqueue_from, "alpha", invited_in_alpha, "http://alpha.localhost/")
        wait_for_mail(1)
        time.sleep(1)  # would a second, wrong message still arrive?

    assert [message.to for message in mail.outbox] == [["queue@alpha.test"]]
    assert "Alpha 人民医院" in mail.outbox[0].subject
    assert "http://alpha.localhost/accounts/reset/" in mail.outbox[0].body

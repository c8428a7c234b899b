"""The queue itself: a real worker on a real kombu transport (the filesystem one, which needs
no server) runs a task in the schema of the tenant that sent it, and only there."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django_tenants.utils import tenant_context

from crm.tasks import staff_invitation_email_task
from saas.celery import app, enqueue_on_commit
from tenants.models import Tenant


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
        broker_transport_options={"data_folder_in": str(queue), "data_folder_out": str(queue)},
    )
    _drop_cached_connections()
    yield
    app.conf.update(saved)
    _drop_cached_connections()


def _drop_cached_connections() -> None:
    # Celery caches its broker connection and producer pools on first use; a changed
    # broker_url only takes effect once they are dropped.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def invited_in_alpha(django_db_blocker):
    """A committed invitation in alpha: the worker's own connection sees committed rows only."""
    with django_db_blocker.unblock():
        alpha = Tenant.objects.get(schema_name="alpha")
        with tenant_context(alpha):
            user = get_user_model().objects.create(
                username="queue@alpha.test", email="queue@alpha.test", password="!unusable"
            )
        yield user
        with tenant_context(alpha):
            user.delete()
        connection.close()


def wait_for_mail(count: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_task_runs_in_the_schema_it_was_sent_from_and_only_there(
    filesystem_broker, invited_in_alpha, django_db_blocker
):
    mail.outbox = []
    with django_db_blocker.unblock(), start_worker(app, pool="solo", perform_ping_check=False):
        beta = Tenant.objects.get(schema_name="beta")
        alpha = Tenant.objects.get(schema_name="alpha")
        # Sent from beta with alpha's user id: beta has no such invitation, nothing is sent.
        with tenant_context(beta):
            enqueue_on_commit(staff_invitation_email_task, invited_in_alpha.pk, "http://beta/")
        with tenant_context(alpha):
            enqueue_on_commit(
                staff_invitation_email_task, invited_in_alpha.pk, "http://alpha.localhost/"
            )
        wait_for_mail(1)
        time.sleep(1)  # would a second, wrong message still arrive?

    assert [message.to for message in mail.outbox] == [["queue@alpha.test"]]
    assert "Alpha 人民医院" in mail.outbox[0].subject
    assert "http://alpha.localhost/accounts/reset/" in mail.outbox[0].body

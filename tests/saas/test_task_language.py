"""A task run for a clinic writes what people read in the clinic's language (Tenant.locale),
whatever language the process that runs it has active: eagerly, as in the other tests, and
on a real worker. The failure used: a WeChat message of a clinic whose Official Account is
not connected, to nobody who could be reached otherwise, fails with the reason."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import translation
from django_tenants.utils import tenant_context

from crm.models import Message
from crm.services import outbox
from crm.tasks import message_send_task
from saas.celery import app, enqueue_on_commit
from tenants.models import Tenant
from tenants.tasks import tenants_close_due_task
from tests.conftest import committed
from tests.saas.test_celery import filesystem_broker  # noqa: F401  (fixture)

CHINESE = "服务商拒绝向此号码发送：本机构的微信公众号未连接。"
ENGLISH = "The provider refuses this number: The clinic's WeChat Official Account is not connected."


def _wechat_message(openid: str) -> Message:
    return outbox.message_queue(
        channel="wechat",
        purpose="follow_up",
        to=openid,
        body="请按时复诊",
        respect_hours=False,
    )


@pytest.mark.parametrize(
    ("clinic", "active", "expected"),
    [("tenant_a", "en", CHINESE), ("tenant_b", "zh-hans", ENGLISH)],
    ids=["zh-hans clinic, English active", "English clinic, zh-hans active"],
)
def test_a_task_writes_the_clinics_language_not_the_callers(
    request, in_tenant, clinic, active, expected
):
    tenant = request.getfixturevalue(clinic)
    with in_tenant(tenant), translation.override(active):
        message = _wechat_message("o-lang-eager")
        assert message_send_task.delay(message.pk).get() == "failed"
        # The caller's language is back once the task is done.
        assert translation.get_language() == active
        message.refresh_from_db()
    assert message.last_error == expected


def test_a_task_for_a_clinic_whose_language_changed_writes_the_new_one(tenant_a, in_tenant):
    tenant_a.locale = Tenant.Locale.EN
    tenant_a.save()
    with in_tenant(tenant_a), translation.override("zh-hans"):
        message = _wechat_message("o-lang-changed")
        message_send_task.delay(message.pk)
        message.refresh_from_db()
    assert message.last_error == ENGLISH


def test_a_public_task_keeps_the_language_it_found(db):
    # The console's tasks (billing, tenants) run in the public schema, for no one clinic.
    with translation.override("en"):
        assert tenants_close_due_task.delay().get() == []
        assert translation.get_language() == "en"


def _queue_in(schema: str, openid: str) -> int:
    with tenant_context(Tenant.objects.get(schema_name=schema)):
        message = _wechat_message(openid)
        enqueue_on_commit(message_send_task, message.pk)
        return message.pk


def _last_errors(ids: dict[str, int]) -> dict[str, str]:
    found = {}
    for schema, pk in ids.items():
        with tenant_context(Tenant.objects.get(schema_name=schema)):
            message = Message.objects.get(pk=pk)
            found[schema] = message.last_error if message.status == "failed" else None
    return found


def _delete(ids: dict[str, int]) -> None:
    for schema, pk in ids.items():
        with tenant_context(Tenant.objects.get(schema_name=schema)):
            Message.objects.filter(pk=pk).delete()


@pytest.mark.django_db
def test_a_real_worker_writes_each_clinics_language_one_task_after_the_other(
    filesystem_broker,  # noqa: F811
):
    ids: dict[str, int] = {}
    try:
        with start_worker(app, pool="solo", perform_ping_check=False):
            # English first: the Chinese clinic's task after it must not inherit it.
            ids["beta"] = committed(_queue_in, "beta", "o-lang-worker-beta")
            ids["alpha"] = committed(_queue_in, "alpha", "o-lang-worker-alpha")
            deadline = time.monotonic() + 20
            while None in committed(_last_errors, ids).values() and time.monotonic() < deadline:
                time.sleep(0.2)
        assert committed(_last_errors, ids) == {"beta": ENGLISH, "alpha": CHINESE}
    finally:
        committed(_delete, ids)

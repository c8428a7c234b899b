"""The Celery app. tenant-schemas-celery records the schema a task was sent from and
switches the worker's connection to it before the task runs."""

import os

from celery.signals import worker_init
from tenant_schemas_celery.app import CeleryApp

from saas.startup import startup_problems

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")

app = CeleryApp("carebridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_to_start_misconfigured(**_kwargs) -> None:
    """A worker that cannot reach the database or the media bucket stops with one line."""
    problems = startup_problems()
    if problems:
        raise SystemExit("CareBridge cannot start: " + "; ".join(problems))


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Send ``task`` once the current transaction commits, to run in the schema current *now*:
    an on_commit callback may fire after the caller has left the tenant's context (e.g. the
    provisioning transaction commits in public)."""
    from django.db import connection, transaction

    headers = {"_schema_name": connection.schema_name}  # tenant-schemas-celery's routing header
    # robust: a broker that is down must not turn a committed change into an error page; the
    # failure is logged (and an invitation can be resent from the staff page).
    transaction.on_commit(lambda: task.apply_async(args, kwargs, headers=headers), robust=True)

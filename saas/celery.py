"""The Celery app. tenant-schemas-celery records the schema a task was sent from and
switches the worker's connection to it before the task runs; the task then speaks the
clinic's language."""

import os
import time

from celery import Task
from celery.signals import (
    task_failure,
    task_postrun,
    task_prerun,
    task_received,
    task_retry,
    task_success,
    worker_init,
)
from django.conf import settings
from django.db import connection, transaction
from django.utils import translation
from tenant_schemas_celery.app import CeleryApp

from saas import metrics
from saas.startup import startup_problems

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")

app = CeleryApp("carebridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Web's /metrics reads the broker's queue depth at scrape time (not the workers' port).
metrics.scrape_collector_add(metrics.CeleryQueueCollector(app))


@worker_init.connect
def _worker_start(**_kwargs) -> None:
    """A worker that cannot reach the database or the media bucket stops with one line;
    one that can serves its figures on CELERY_METRICS_PORT."""
    problems = startup_problems()
    if problems:
        raise SystemExit("CareBridge cannot start: " + "; ".join(problems))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics.metrics_dir_reset(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if settings.CELERY_METRICS_PORT:
        metrics.worker_metrics_serve(settings.CELERY_METRICS_PORT)


# Task figures by task name (saas/metrics.py), recorded in the process that runs the task.
@task_received.connect
def _task_received(request=None, **_kwargs) -> None:
    metrics.TASKS.labels(request.name, "received").inc()


@task_prerun.connect
def _task_started(task=None, **_kwargs) -> None:
    task.request.carebridge_started = time.perf_counter()
    task.request.carebridge_language = _clinic_language_enter()


@task_postrun.connect
def _task_ended(task=None, **_kwargs) -> None:
    language = getattr(task.request, "carebridge_language", None)
    if language is not None:
        language.__exit__(None, None, None)
    started = getattr(task.request, "carebridge_started", None)
    if started is not None:
        metrics.TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started)


def _clinic_language_enter() -> translation.override | None:
    """What a task run for a clinic writes for people to read (an outbox message's error, an
    import's problems, an email) is in the clinic's language, not the worker's default nor
    whatever an earlier task or an eager caller left active. tenant-schemas-celery's own
    task_prerun receiver, connected before this one, has already put the clinic on the
    connection. Tasks of the public schema keep the language they found."""
    if connection.schema_name == getattr(settings, "PUBLIC_SCHEMA_NAME", "public"):
        return None
    # The locale is a field of the clinic's row: read off the connection, no app imported.
    locale = getattr(connection.tenant, "locale", None)
    if not locale:
        return None
    language = translation.override(locale)
    language.__enter__()
    return language


@task_success.connect
def _task_succeeded(sender=None, **_kwargs) -> None:
    metrics.TASKS.labels(sender.name, "succeeded").inc()


@task_failure.connect
def _task_failed(sender=None, **_kwargs) -> None:
    metrics.TASKS.labels(sender.name, "failed").inc()


@task_retry.connect
def _task_retried(sender=None, **_kwargs) -> None:
    metrics.TASKS.labels(sender.name, "retried").inc()


def enqueue_on_commit(task: str | Task, *args, **kwargs) -> None:
    """Send ``task`` once the current transaction commits, to run in the schema current *now*:
    an on_commit callback may fire after the caller has left the tenant's context (e.g. the
    provisioning transaction commits in public).

    Services name their task ("crm.tasks.import_run_task") rather than import it: the tasks
    modules import the services, so an import the other way would close a circle."""
    headers = {"_schema_name": connection.schema_name}  # tenant-schemas-celery's routing header

    def send() -> None:
        if isinstance(task, str) and task not in app.tasks:
            # A web process has not imported the apps' tasks modules yet: Celery's own
            # autodiscovery (what a worker runs at start-up) registers them.
            app.loader.import_default_modules()
        found = app.tasks[task] if isinstance(task, str) else task
        found.apply_async(args, kwargs, headers=headers)

    # robust: a broker that is down must not turn a committed change into an error page; the
    # failure is logged (and an invitation can be resent from the staff page).
    transaction.on_commit(send, robust=True)

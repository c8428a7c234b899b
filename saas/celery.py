"""The Celery app. tenant-schemas-celery records the schema a task was sent from and
switches the worker's connection to it before the task runs."""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")

app = CeleryApp("carebridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

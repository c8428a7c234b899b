"""Celery tasks of the tenants app (public schema)."""

from django.conf import settings

from saas.celery import app

from . import schemas


@app.task
def schema_pool_refill_task() -> int:
    """Keep TENANT_POOL_SIZE ready-made schemas for instant sign-up."""
    return schemas.pool_refill(settings.TENANT_POOL_SIZE)

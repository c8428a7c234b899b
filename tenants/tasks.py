"""Celery tasks of the tenants app (public schema)."""

from django.conf import settings

from saas.celery import app

from . import offboarding, schemas


@app.task
def schema_pool_refill_task() -> int:
    """Keep TENANT_POOL_SIZE ready-made schemas for instant sign-up."""
    return schemas.pool_refill(settings.TENANT_POOL_SIZE)


@app.task
def tenants_close_due_task() -> list[str]:
    """Hourly, in the public schema: delete the closing clinics whose grace period is over."""
    return offboarding.tenants_close_due()

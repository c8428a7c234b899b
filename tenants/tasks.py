"""Celery tasks of the tenants app (public schema)."""

from saas.celery import app

from . import offboarding, schemas, selectors


@app.task
def schema_pool_refill_task() -> int:
    """Keep ready-made schemas for instant sign-up, as many as the sign-up rate wants."""
    return schemas.pool_refill(selectors.pool_size_wanted())


@app.task
def tenants_close_due_task() -> list[str]:
    """Hourly, in the public schema: delete the closing clinics whose grace period is over."""
    return offboarding.tenants_close_due()

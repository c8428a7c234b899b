"""Celery tasks of billing (public schema): thin, ids only."""

from saas.celery import app

from . import services
from .stripe import handlers


@app.task(bind=True, max_retries=8, retry_backoff=True, retry_backoff_max=600)
def webhook_event_process_task(self, event_id: int) -> str:
    """Apply one stored Stripe event exactly once; a failure leaves no trace of it but the
    error, and the event is tried again (also when Stripe redelivers it)."""
    try:
        return handlers.event_process(event_id).outcome
    except Exception as exc:
        handlers.event_failed(event_id, f"{type(exc).__name__}: {exc}")
        raise self.retry(exc=exc) from exc


@app.task
def billing_tick_task() -> dict:
    """Beat job: suspend tenants whose grace period or trial has run out."""
    return services.billing_tick()

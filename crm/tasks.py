"""Celery tasks of the crm app: thin, take ids, call one service. tenant-schemas-celery has
already switched the connection to the sending tenant's schema, and saas.celery the language
to the clinic's."""

import smtplib

from django.db import connection
from django.utils.translation import gettext as _

from saas.celery import app
from tenants.fanout import clinic_schemas_working

from .services import (
    exports,
    followup,
    import_jobs,
    outbox,
    planning,
    sms_reports,
    staff,
    webhooks,
)


@app.task(autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=True, max_retries=8)
def staff_invitation_email_task(user_id: int, base_url: str) -> None:
    """Email the set-password link of an invited staff member; a failing mail server is
    retried with backoff, and a retry after the invitation was accepted sends nothing."""
    staff.staff_invitation_email(
        user_id=user_id, base_url=base_url, organisation=connection.tenant.name
    )


@app.task
def sms_pull_task() -> int:
    """Ask the clinic's template SMS provider for reports and replies it did not push."""
    return sms_reports.sms_pull()


@app.task
def encounters_plan_task(encounter_ids: list[int]) -> dict:
    """Plan (or re-plan) the follow-ups of saved or imported encounters."""
    result = planning.encounters_plan(encounter_ids)
    return {"created": result.created, "updated": result.updated}


@app.task
def import_read_task(job_id: int) -> None:
    """Unpack an uploaded workbook under a memory ceiling; a failure is told in the clinic's
    language on the import's page."""
    try:
        import_jobs.import_read(job_id)
    except Exception:
        # Not left "reading" for ever: the page says what to do, the log says what broke.
        import_jobs.import_fail(
            job_id, _("The file could not be read because of an error on our side.")
        )
        raise


@app.task
def import_run_task(job_id: int) -> None:
    """Import a checked file; an unexpected failure marks the import failed (each committed
    chunk stays, and running the same file again completes it without duplicates). A worker
    killed mid-import hands the message back and the next one resumes it."""
    try:
        import_jobs.import_run(job_id)
    except Exception:
        import_jobs.import_fail(job_id, _("The import failed because of an error on our side."))
        raise


@app.task
def followup_tick_task() -> dict:
    """One tenant's periodic pass (sent by followup_fanout_task with the tenant's schema),
    then every outbox message and webhook delivery whose time has come goes to a worker, and
    every import whose worker died is resumed."""
    result = vars(followup.followup_tick())
    due = outbox.outbox_due()
    for start in range(0, len(due), outbox.BATCH):
        messages_send_task.delay(due[start : start + outbox.BATCH])
    hooks_due = webhooks.webhooks_due()
    for delivery_id in hooks_due:
        webhook_deliver_task.delay(delivery_id)
    orphaned = import_jobs.imports_orphaned()
    for job_id in orphaned:
        import_run_task.delay(job_id)
    unread = import_jobs.imports_unread()
    for job_id in unread:
        import_read_task.delay(job_id)
    unplanned = planning.encounters_unplanned()
    if unplanned:
        encounters_plan_task.delay(unplanned)
    if sms_reports.sms_pull_wanted():
        sms_pull_task.delay()
    return result | {
        "messages_due": len(due),
        "webhooks_due": len(hooks_due),
        "imports_resumed": len(orphaned),
        "imports_read_again": len(unread),
        "encounters_planned_late": len(unplanned),
    }


@app.task
def clinic_export_task(export_id: int) -> int:
    """Build the clinic's full export ZIP (crm.services.exports); returns its size."""
    return exports.clinic_export_build(export_id).size


@app.task
def webhook_deliver_task(delivery_id: int) -> str | None:
    """Post one webhook delivery; a failure waits for its retry time (the tick sends it)."""
    return webhooks.webhook_deliver(delivery_id)


@app.task
def message_send_task(message_id: int) -> str | None:
    """Send one outbox message; a message another worker took, or already sent, is left."""
    return outbox.message_send(message_id)


@app.task
def messages_send_task(message_ids: list[int]) -> dict:
    """Send a batch of due outbox messages over one provider connection."""
    return outbox.messages_send(message_ids)


@app.task
def followup_fanout_task() -> int:
    """Beat job, in the public schema: one tick per tenant that is not suspended."""
    count = 0
    for schema_name in clinic_schemas_working():
        followup_tick_task.apply_async(headers={"_schema_name": schema_name})
        count += 1
    return count

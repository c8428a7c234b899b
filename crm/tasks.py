"""Celery tasks of the crm app: thin, take ids, call one service. tenant-schemas-celery has
already switched the connection to the sending tenant's schema."""

import smtplib

from django.db import connection
from django.utils import translation

from saas.celery import app

from . import services


@app.task(autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=True, max_retries=8)
def staff_invitation_email_task(user_id: int, base_url: str) -> None:
    """Email the set-password link of an invited staff member; a failing mail server is
    retried with backoff, and a retry after the invitation was accepted sends nothing."""
    tenant = connection.tenant
    with translation.override(tenant.locale):
        services.staff_invitation_email(
            user_id=user_id, base_url=base_url, organisation=tenant.name
        )

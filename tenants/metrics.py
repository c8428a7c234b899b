"""The clinics' backlog on web's /metrics (saas/metrics.py): what each clinic's last follow-up
tick counted, read from the public ClinicBacklog table in one query however many clinics
there are. Labelled by schema name, an identifier: never a clinic's name, never anything
about patients."""

import logging

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily

from .selectors import clinic_backlogs

logger = logging.getLogger(__name__)


class ClinicBacklogCollector:
    """``carebridge_clinic_outbox_queued``, ``carebridge_clinic_webhook_deliveries{state}``
    and ``carebridge_clinic_followups_overdue``, each labelled ``clinic``."""

    def describe(self):
        return list(self._families())

    def collect(self):
        try:
            backlogs = list(clinic_backlogs())
        except DatabaseError as exc:
            # The process figures still answer; /readyz reports the database.
            logger.warning("Clinic backlog not read: %s", exc.__class__.__name__)
            return
        outbox, webhooks, overdue = self._families()
        for backlog in backlogs:
            clinic = backlog.tenant.schema_name
            outbox.add_metric([clinic], backlog.outbox_queued)
            webhooks.add_metric([clinic, "retrying"], backlog.webhooks_retrying)
            webhooks.add_metric([clinic, "failed"], backlog.webhooks_failed)
            overdue.add_metric([clinic], backlog.followups_overdue)
        yield from (outbox, webhooks, overdue)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "carebridge_clinic_outbox_queued",
                "Outbox messages queued (not yet taken by a worker), at the last tick",
                labels=["clinic"],
            ),
            GaugeMetricFamily(
                "carebridge_clinic_webhook_deliveries",
                "Webhook deliveries waiting to be retried, or failed for good, at the last tick",
                labels=["clinic", "state"],
            ),
            GaugeMetricFamily(
                "carebridge_clinic_followups_overdue",
                "Open follow-up tasks past their due time, at the last tick",
                labels=["clinic"],
            ),
        )

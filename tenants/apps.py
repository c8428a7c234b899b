from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from saas import metrics


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self) -> None:
        # Imported here because the collector reads models, which exist only once the
        # registry is ready.
        from .metrics import ClinicBacklogCollector

        metrics.scrape_collector_add(ClinicBacklogCollector())

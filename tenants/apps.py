from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.migrations.recorder import MigrationRecorder
from django.utils.translation import gettext_lazy as _

from saas import metrics

from .recorder import recorder_has_table


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self) -> None:
        # Imported here because the collector and the receivers' services read models, which
        # exist only once the registry is ready.
        from . import signals
        from .metrics import ClinicBacklogCollector

        # One catalog lookup instead of a scan of every clinic's relations (tenants/recorder.py).
        MigrationRecorder.has_table = recorder_has_table

        metrics.scrape_collector_add(ClinicBacklogCollector())
        user_logged_in.connect(signals.signed_in, dispatch_uid="console-audit-signed-in")
        user_login_failed.connect(
            signals.sign_in_failed, dispatch_uid="console-audit-sign-in-failed"
        )
        user_logged_out.connect(signals.signed_out, dispatch_uid="console-audit-signed-out")

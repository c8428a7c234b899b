from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.utils.translation import gettext_lazy as _

from saas.signals import two_step_changed


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        # Imported here: the receivers' services import models, which need the registry.
        from . import signals

        user_logged_in.connect(signals.signed_in, dispatch_uid="crm-audit-signed-in")
        user_login_failed.connect(signals.sign_in_failed, dispatch_uid="crm-audit-sign-in-failed")
        user_logged_out.connect(signals.signed_out, dispatch_uid="crm-audit-signed-out")
        two_step_changed.connect(
            signals.two_step_changed, dispatch_uid="crm-audit-two-step-changed"
        )

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

from .sessions import session_started


class SaasConfig(AppConfig):
    name = "saas"
    verbose_name = "CareBridge"

    def ready(self) -> None:
        user_logged_in.connect(session_started, dispatch_uid="carebridge-session-started")

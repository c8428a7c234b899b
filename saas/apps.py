from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ImproperlyConfigured

from .pooling import UnsafePooling, pooling_check
from .sessions import session_started


class SaasConfig(AppConfig):
    name = "saas"
    verbose_name = "CareBridge"

    def ready(self) -> None:
        user_logged_in.connect(session_started, dispatch_uid="carebridge-session-started")
        # Web, workers, beat and every manage.py command: none runs behind a pooler that
        # could hand it another clinic's search_path.
        try:
            pooling_check(
                mode=settings.DATABASE_POOL_MODE,
                admin_url=settings.DATABASE_POOLER_ADMIN_URL,
                database=settings.DATABASES["default"],
            )
        except UnsafePooling as exc:
            raise ImproperlyConfigured(str(exc)) from exc

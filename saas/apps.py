from django.apps import AppConfig


class SaasConfig(AppConfig):
    name = "saas"
    verbose_name = "CareBridge"

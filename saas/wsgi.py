import os

from django.core.wsgi import get_wsgi_application

from saas.memory import freeze_loaded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")
application = get_wsgi_application()
freeze_loaded()

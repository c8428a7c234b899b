"""The Django project: settings, root URLconfs (public and tenant), the Celery app, the base
layout and shared middleware. No business logic lives here."""

from .celery import app as celery_app

__all__ = ["celery_app"]

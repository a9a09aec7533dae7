"""Chat Platform: the Django project (settings, urls, the Celery app, shared clients)."""

from .celery import app as celery_app

__all__ = ("celery_app",)

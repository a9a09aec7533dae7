"""Chat Platform's configuration: settings, URLs, the Celery app, WSGI/ASGI and the worker
launcher. Code shared by the apps lives in `core` and `integrations`, not here."""

from .celery import app as celery_app

__all__ = ("celery_app",)

"""WSGI entry point: gunicorn (make prod, compose) and runserver (make up) load it in each web
process, after any fork, so tracing starts here (observability.tracing)."""

import os

from django.core.wsgi import get_wsgi_application

from observability import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
tracing.configure("web")  # before Django loads its middleware: the instrumentation adds one
application = get_wsgi_application()

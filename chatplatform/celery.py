"""The one Celery app: configured from Django settings under the CELERY_ namespace."""

import os
from typing import Any

from celery import Celery
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
)
from django.db import close_old_connections

from observability import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")

app = Celery("chatplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_connections_around_task(task: Any = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close the database connections
    that are broken or older than CONN_MAX_AGE, keep the others (health-checked before reuse).

    Celery's Django fixup closes every connection around every task since 5.6 (celery#9824,
    which reverted honouring CONN_MAX_AGE); CELERY_DB_REUSE_MAX in settings turns that off.
    """
    if task is None or getattr(task.request, "is_eager", False):
        return  # an eager task runs inside the caller's request or transaction
    close_old_connections()


@worker_process_init.connect
def trace_pool_process(**kwargs: Any) -> None:
    """Each pool process traces as its worker group (chatplatform-worker-email), configured
    after the fork: a batch processor's thread would not survive it."""
    tracing.configure(f"worker-{os.environ.get('WORKER_GROUP') or 'all'}")


@worker_process_shutdown.connect
def flush_traces(**kwargs: Any) -> None:
    """A pool process leaves without atexit hooks: send its last spans first."""
    tracing.flush()


@beat_init.connect
def trace_beat(**kwargs: Any) -> None:
    tracing.configure("beat")

"""Celery tasks of the chats app: those of its two outbox pipelines (imported from
`chats.emails.tasks` and `chats.live.tasks`, so that Celery's autodiscovery registers them under
their names `chats.tasks.*`), and beat's sweeper over both.

Tasks import the delivery modules; the recording modules import their pipeline's tasks to queue
them, so nothing imports back.
"""

from celery import shared_task

from core import outbox

from .emails.delivery import EMAILS
from .emails.tasks import build_email_digests_task, send_admin_notification_task
from .live.delivery import PUBLICATIONS
from .live.tasks import end_subscriptions_task, publish_event_task

__all__ = [
    "build_email_digests_task",
    "end_subscriptions_task",
    "publish_event_task",
    "requeue_stale_outbox_task",
    "send_admin_notification_task",
]


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_stale_outbox_task() -> dict[str, int]:
    """Beat's safety net: queue what waited too long (Redis was down, a worker was killed)."""
    return {
        "notifications": outbox.requeue_stale(EMAILS.model, send_admin_notification_task),
        "publications": outbox.requeue_stale(PUBLICATIONS.model, publish_event_task),
    }

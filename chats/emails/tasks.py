"""Celery tasks of the admin-email pipeline: ids in, the delivery driver or the digest does the
work. `chats.tasks` imports this module, so Celery's autodiscovery registers it."""

from celery import shared_task

from core import outbox
from core.delivery import delivery_task

from . import delivery, digest

send_admin_notification_task = delivery_task(
    delivery.EMAILS,
    name="chats.tasks.send_admin_notification_task",
    soft_time_limit=30,  # above EMAIL_TIMEOUT, so a silent server fails one attempt first
    time_limit=45,
)


@shared_task(name="chats.tasks.build_email_digests_task", soft_time_limit=60, time_limit=90)
def build_email_digests_task() -> int:
    """Beat: one digest per inbox whose capped emails wait and whose window has room again;
    queued for the `email` workers once committed (or by the sweeper, if Redis is down)."""
    return outbox.send_tasks(send_admin_notification_task, digest.build_digests())

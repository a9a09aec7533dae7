"""Celery tasks of the chats app: ids in, a plain function does the work, retry policy here.

The two outbox pipelines' tasks come from the one driver (core.delivery.delivery_task). Tasks
import the delivery modules; the recording modules (`chats.emails.recording`,
`chats.live.recording`) import the tasks to queue them, so nothing imports back.
"""

from celery import shared_task

from core import outbox
from core.delivery import RETRY_BACKOFF, TransientDeliveryError, delivery_task

from .emails import delivery as email_delivery
from .emails import digest
from .live import delivery as live_delivery

send_admin_notification_task = delivery_task(
    email_delivery.EMAILS,
    name="chats.tasks.send_admin_notification_task",
    soft_time_limit=30,  # above EMAIL_TIMEOUT, so a silent server fails one attempt first
    time_limit=45,
)

publish_event_task = delivery_task(
    live_delivery.PUBLICATIONS,
    name="chats.tasks.publish_event_task",
    soft_time_limit=15,
    time_limit=20,
)


@shared_task(
    autoretry_for=(TransientDeliveryError,),
    # About 4 minutes of backoff: past the subscription token's lifetime, when the refresh is
    # refused and Centrifugo ends the subscription without us.
    max_retries=8,
    soft_time_limit=15,
    time_limit=20,
    acks_late=True,  # safe: unsubscribing twice is harmless
    reject_on_worker_lost=True,
    **RETRY_BACKOFF,
)
def end_subscriptions_task(*subscriptions: list[int]) -> str:
    """Each argument a [chat id, user id] pair whose subscription ends."""
    return live_delivery.end_subscriptions(subscriptions)


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_stale_outbox_task() -> dict[str, int]:
    """Beat's safety net: queue what waited too long (Redis was down, a worker was killed)."""
    return {
        "notifications": outbox.requeue_stale(
            email_delivery.EMAILS.model, send_admin_notification_task
        ),
        "publications": outbox.requeue_stale(live_delivery.PUBLICATIONS.model, publish_event_task),
    }


@shared_task(soft_time_limit=60, time_limit=90)
def build_email_digests_task() -> int:
    """Beat: one digest per inbox whose capped emails wait and whose window has room again;
    queued for the `email` workers once committed (or by the sweeper, if Redis is down)."""
    return outbox.send_tasks(send_admin_notification_task, digest.build_digests())

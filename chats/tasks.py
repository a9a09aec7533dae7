"""Celery tasks of the chats app: ids in, a plain function does the work, retry policy here.

Tasks import the delivery modules; the recording modules (`notifications`, `realtime`) import
the tasks to queue them, so nothing imports back.
"""

from celery import shared_task

from core import outbox

from . import digest, email_delivery, live_delivery
from .models import Notification, Publication

# Exponential backoff with jitter, capped well below the broker's visibility timeout.
RETRY = {"retry_backoff": 2, "retry_backoff_max": 60, "retry_jitter": True}


@shared_task(
    autoretry_for=(email_delivery.TransientEmailError,),  # not EmailGaveUp: the last attempt fails
    # No limit here: the row's attempts bound the retries (each retry claims the row, counting an
    # attempt, and the last one raises EmailGaveUp; a claim that gets nothing returns quietly).
    # A task's own retry count restarts with every sweeper re-queue, so it cannot be the bound.
    max_retries=None,
    soft_time_limit=30,  # above EMAIL_TIMEOUT, so a silent server fails one attempt first
    time_limit=45,
    acks_late=True,  # safe: delivery is idempotent (a claimed or sent row is skipped)
    reject_on_worker_lost=True,
    **RETRY,
)
def send_admin_notification_task(notification_id: int) -> str:
    return email_delivery.deliver_notification(notification_id)


@shared_task(
    autoretry_for=(live_delivery.TransientPublishError,),  # not PublishGaveUp
    # No limit here: the row's attempts bound the retries (PUBLICATION_MAX_ATTEMPTS), as for
    # emails; a task's own count restarts with every sweeper re-queue.
    max_retries=None,
    soft_time_limit=15,
    time_limit=20,
    acks_late=True,
    reject_on_worker_lost=True,
    **RETRY,
)
def publish_event_task(*publication_ids: int) -> list[str]:
    return live_delivery.deliver_publications(publication_ids)


@shared_task(
    autoretry_for=(live_delivery.TransientPublishError,),
    # About 4 minutes of backoff: past the subscription token's lifetime, when the refresh is
    # refused and Centrifugo ends the subscription without us.
    max_retries=8,
    soft_time_limit=15,
    time_limit=20,
    acks_late=True,  # safe: unsubscribing twice is harmless
    reject_on_worker_lost=True,
    **RETRY,
)
def end_subscriptions_task(*subscriptions: list[int]) -> str:
    """Each argument a [chat id, user id] pair whose subscription ends."""
    return live_delivery.end_subscriptions(subscriptions)


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_stale_outbox_task() -> dict[str, int]:
    """Beat's safety net: queue what waited too long (Redis was down, a worker was killed)."""
    return {
        "notifications": outbox.requeue_stale(Notification, send_admin_notification_task),
        "publications": outbox.requeue_stale(Publication, publish_event_task),
    }


@shared_task(soft_time_limit=60, time_limit=90)
def build_email_digests_task() -> int:
    """Beat: one digest per inbox whose capped emails wait and whose window has room again;
    queued for the `email` workers once committed (or by the sweeper, if Redis is down)."""
    return outbox.send_tasks(send_admin_notification_task, digest.build_digests())

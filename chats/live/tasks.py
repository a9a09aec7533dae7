"""Celery tasks of the live pipeline: ids in, the delivery driver does the work. `chats.tasks`
imports this module, so Celery's autodiscovery registers it."""

from celery import shared_task

from core.delivery import RETRY_BACKOFF, TransientDeliveryError, delivery_task

from . import delivery

publish_event_task = delivery_task(
    delivery.PUBLICATIONS,
    name="chats.tasks.publish_event_task",
    soft_time_limit=15,
    time_limit=20,
    batch=True,  # a message's event and its statistics tick travel in one task
)


@shared_task(
    name="chats.tasks.end_subscriptions_task",
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
    return delivery.end_subscriptions(subscriptions)

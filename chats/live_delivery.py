"""Live chat events, the delivery side: publish recorded `Publication` rows from a worker.

A row is claimed before it is published and its id is the idempotency key, so a retry or a
sweeper re-queue never makes a subscriber see it twice.
"""

import logging
from collections.abc import Iterable, Sequence

from cent import CentError
from django.conf import settings

from core import outbox
from integrations import centrifugo

from .models import Publication

logger = logging.getLogger(__name__)


class TransientPublishError(Exception):
    """Centrifugo was unreachable, slow or answered with an error: retry later."""


class PublishGaveUp(Exception):
    """Attempts exhausted: the row is `failed` with its error; the task fails so Flower and the
    failure metrics see it (not in `autoretry_for`: a retry would find the failed row and skip)."""


def deliver_publication(publication_id: int) -> str:
    """Publish one event; a failure leaves it pending for a retry (the task's, or the sweeper's),
    and the PUBLICATION_MAX_ATTEMPTS-th failure records it `failed`, as emails are."""
    lease = settings.CENTRIFUGO_TIMEOUT * 3 + 30
    publication = outbox.claim(Publication, publication_id, lease_seconds=lease)
    if publication is None:
        return "skipped"
    try:
        centrifugo.publish(
            publication.channel, publication.data, idempotency_key=publication.idempotency_key
        )
    except (CentError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        # The row counts every attempt, the sweeper's re-queues included (a task's own count
        # restarts with each re-queue), so it alone decides which attempt is the last.
        if publication.attempts >= settings.PUBLICATION_MAX_ATTEMPTS:
            outbox.fail(publication, error)
            logger.warning("publication %s failed: %s", publication_id, error)
            raise PublishGaveUp(error) from exc
        outbox.release(publication, error)
        raise TransientPublishError(error) from exc
    outbox.done(publication)
    return "published"


def chat_subscriptions(subscriptions: Iterable[Sequence[int]]) -> list[tuple[str, int]]:
    """(chat id, user id) pairs as the (channel, user id) pairs Centrifugo unsubscribes."""
    return [(centrifugo.chat_channel(chat_id), user_id) for chat_id, user_id in subscriptions]


def end_subscriptions(subscriptions: Iterable[Sequence[int]]) -> str:
    """End these (chat id, user id) subscriptions (the fallback of the web process's own call);
    a failure is retried by the task, and the tokens' expiry bounds it anyway."""
    try:
        centrifugo.unsubscribe(chat_subscriptions(subscriptions))
    except (CentError, OSError) as exc:
        raise TransientPublishError(f"{type(exc).__name__}: {exc}") from exc
    return "unsubscribed"


def deliver_publications(publication_ids: Iterable[int]) -> list[str]:
    """Publish in order; a transient failure stops the batch (the rest stay pending, unclaimed)
    and raises, so the task's retry takes the batch again and skips what is already published or
    failed. One that gives up does not stop the others; the task fails after them."""
    results, gave_up = [], []
    for pk in publication_ids:
        try:
            results.append(deliver_publication(pk))
        except PublishGaveUp as exc:
            results.append("failed")
            gave_up.append(f"{pk}: {exc}")
    if gave_up:
        raise PublishGaveUp("; ".join(gave_up))
    return results

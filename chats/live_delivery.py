"""Live chat events, the delivery side: publish recorded `Publication` rows from a worker.

A row is claimed before it is published and its id is the idempotency key, so a retry or a
sweeper re-queue never makes a subscriber see it twice.
"""

from collections.abc import Iterable

from cent import CentError
from django.conf import settings

from core import outbox
from integrations import centrifugo

from .models import Publication


class TransientPublishError(Exception):
    """Centrifugo was unreachable, slow or answered with an error: retry later."""


def deliver_publication(publication_id: int) -> str:
    """Publish one event; on failure it stays pending and the sweeper retries until it lands."""
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
        outbox.release(publication, error)
        raise TransientPublishError(error) from exc
    outbox.done(publication)
    return "published"


def end_subscriptions(chat_id: int, user_ids: Iterable[int]) -> str:
    """Unsubscribe removed members from the chat's channel (the fallback of the web process's
    own call); a failure is retried by the task, and the tokens' expiry bounds it anyway."""
    try:
        centrifugo.unsubscribe(centrifugo.chat_channel(chat_id), list(user_ids))
    except (CentError, OSError) as exc:
        raise TransientPublishError(f"{type(exc).__name__}: {exc}") from exc
    return "unsubscribed"


def deliver_publications(publication_ids: Iterable[int]) -> list[str]:
    """Publish in order; the first failure stops the batch (the rest stay pending, unclaimed) and
    raises, so the task's retry takes the batch again and skips what is already published."""
    return [deliver_publication(pk) for pk in publication_ids]

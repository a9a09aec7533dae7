"""Live chat events: recorded with the message, published to Centrifugo after commit.

If Centrifugo is down the message is still saved; the publication waits in the outbox and is
published once it is back, with its id as the idempotency key so it arrives once.
"""

import logging

from cent import CentError
from django.conf import settings

from chatplatform import centrifugo, outbox

from .models import Message, Publication

logger = logging.getLogger(__name__)


class TransientPublishError(Exception):
    """Centrifugo was unreachable, slow or answered with an error: retry later."""


def message_payload(event: str, message: Message) -> dict:
    return {
        "type": event,
        "message": {
            "id": message.pk,
            "chat_id": message.chat_id,
            "author_id": message.author_id,
            "author": message.author.username if message.author_id else None,
            "text": "" if message.deleted_at else message.text,
            "created_at": message.created_at.isoformat(),
            "edited_at": message.edited_at.isoformat() if message.edited_at else None,
            "deleted": message.deleted_at is not None,
        },
    }


def record_message_event(event: str, message: Message) -> Publication:
    """Call inside the message's transaction."""
    from .tasks import publish_event_task

    publication = Publication.objects.create(
        channel=centrifugo.chat_channel(message.chat_id), data=message_payload(event, message)
    )
    outbox.enqueue_after_commit(publish_event_task, [publication.pk])
    return publication


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


def requeue_stale() -> int:
    from .tasks import publish_event_task

    return outbox.requeue_stale(Publication, publish_event_task)

"""Live chat events, the recording side: written with the message, published to Centrifugo by
the web process right after commit (or handed to the `live` queue, whose task runs
`chats.live.delivery` through core.delivery), and who may subscribe to which channel.

If Centrifugo is down the message is still saved; the publication waits in the outbox and is
published once it is back, with its id as the idempotency key so it arrives once.
"""

import logging
import re

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from chats.models import Membership, Message, Publication
from chats.shapes import message_data
from core import delivery, outbox, tracing
from core.errors import DomainError, Forbidden
from integrations import centrifugo

from . import delivery as live_delivery
from .tasks import end_subscriptions_task, publish_event_task

logger = logging.getLogger(__name__)


CHAT_CHANNEL_RE = re.compile(rf"^{centrifugo.CHAT_NAMESPACE}:(?P<chat_id>[0-9]{{1,18}})$")


def subscription_token_for(user: AbstractBaseUser, channel: str) -> str:
    """A token for one channel the user may read: a chat they belong to, or (staff) live stats.

    Centrifugo refuses a chat subscription without it, so this check is the channel's access rule.
    Clients come back for a new one every CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS to stay
    subscribed, so a refusal here also ends the subscription of someone who lost access.
    """
    if channel == centrifugo.STATS_CHANNEL:
        if not user.is_staff:
            raise Forbidden("Only staff may watch the live statistics.", field="channel")
        return centrifugo.subscription_token(user.pk, channel)
    match = CHAT_CHANNEL_RE.match(channel)
    if match is None:
        raise DomainError(
            f"Unknown channel; use {centrifugo.CHAT_NAMESPACE}:<chat id> "
            f"or {centrifugo.STATS_CHANNEL}.",
            field="channel",
        )
    chat_id = int(match["chat_id"])
    if not Membership.objects.filter(chat_id=chat_id, user_id=user.pk).exists():
        raise Forbidden("You are not a member of this chat.", field="channel")
    return centrifugo.subscription_token(user.pk, channel)


def unsubscribe_after_commit(subscriptions: list[tuple[int, int]]) -> None:
    """Call in the transaction that removes memberships (a member, a chat, an account) with their
    (chat id, user id) pairs: once it commits, those subscriptions end at once, in one call, not
    when their subscription tokens expire; the API refuses a new token from the commit on."""
    if subscriptions:
        transaction.on_commit(lambda: end_subscriptions_now(list(subscriptions)))


def end_subscriptions_now(subscriptions: list[tuple[int, int]]) -> str:
    """The short path, as for publications: the web process asks Centrifugo itself, waiting at
    most CENTRIFUGO_REQUEST_TIMEOUT, so the next message of the chat no longer reaches them. If
    Centrifugo does not answer, the `live` queue's task retries with backoff. No outbox row:
    an unsubscribe matters only until the member's subscription token expires
    (CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS); its refresh is refused from the commit on."""
    try:
        centrifugo.unsubscribe(
            live_delivery.chat_subscriptions(subscriptions),
            timeout=settings.CENTRIFUGO_REQUEST_TIMEOUT,
        )
    except Exception as exc:
        logger.warning("unsubscribing %s failed, the live queue will: %s", subscriptions, exc)
        # One task for all the pairs, through send_tasks' bounded hand-over.
        outbox.send_tasks(end_subscriptions_task, subscriptions, together=True)
        return "queued"
    return "unsubscribed"


def message_payload(event: str, message: Message) -> dict:
    """A live chat event: its type and the message as the API returns it (chats.shapes)."""
    return {"type": event, "message": message_data(message)}


def record_message_event(event: str, message: Message) -> list[Publication]:
    """Call inside the message's transaction: the chat's event, and for a new message a
    text-free activity tick for the live statistics page (staff see counts, not texts)."""
    tracing.annotate(chat_id=message.chat_id, message_id=message.pk)
    rows = [
        Publication(
            channel=centrifugo.chat_channel(message.chat_id), data=message_payload(event, message)
        )
    ]
    if event == "message_created":
        activity = {
            "type": "message_activity",
            "chat_id": message.chat_id,
            "created_at": message.created_at.isoformat(),
        }
        rows.append(Publication(channel=centrifugo.STATS_CHANNEL, data=activity))
    # One INSERT for both (ids in order, on PostgreSQL and SQLite alike): one round trip less in
    # the request that a subscriber is waiting on. One task for the event and its tick, when the
    # web process does not publish itself: half the broker and worker overhead per message.
    short_path = publish_after_commit if settings.CENTRIFUGO_PUBLISH_AFTER_COMMIT else None
    return delivery.record(publish_event_task, rows, together=True, hand_over=short_path)


def publish_after_commit(publications: list[Publication]) -> str:
    """The short live path (docs/realtime.md): right after commit, the web process publishes the
    rows itself, in one Centrifugo call that waits at most CENTRIFUGO_REQUEST_TIMEOUT, and marks
    them sent. If Centrifugo is down, slow or refuses, the rows go to the `live` queue's task,
    which retries with backoff; if Redis is down too, the sweeper finds them. The idempotency key
    keeps a publication that Centrifugo did take (a timeout after it answered) from arriving
    twice when the task publishes it again."""
    ids = [p.pk for p in publications]
    try:
        centrifugo.publish_batch(
            [(p.channel, p.data, p.idempotency_key) for p in publications],
            timeout=settings.CENTRIFUGO_REQUEST_TIMEOUT,
        )
    except Exception as exc:
        logger.warning("publishing %s after commit failed, the live queue will: %s", ids, exc)
        outbox.send_tasks(publish_event_task, ids, together=True)
        return "queued"
    outbox.mark_done(Publication, ids)
    return "published"

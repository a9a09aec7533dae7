"""Live chat events, the delivery side: how recorded `Publication` rows reach Centrifugo.

The driver (core.delivery) claims each row, publishes it and records the outcome; every failure
is transient (retried with backoff until PUBLICATION_MAX_ATTEMPTS, then failed). A row's id is
its idempotency key, so a retry or a sweeper re-queue never makes a subscriber see it twice.
"""

import contextlib
from collections.abc import Iterable, Sequence

from cent import CentError

from chats.models import Publication
from core.delivery import Delivery, TransientDeliveryError, describe_exception
from integrations import centrifugo


def send(publication: Publication, after: contextlib.ExitStack) -> None:
    centrifugo.publish(
        publication.channel, publication.data, idempotency_key=publication.idempotency_key
    )


PUBLICATIONS = Delivery(
    model=Publication,
    send=send,
    timeout_setting="CENTRIFUGO_TIMEOUT",
    max_attempts_setting="PUBLICATION_MAX_ATTEMPTS",
    done_result="published",
    trace_attributes=lambda row: trace_attributes(row.channel, row.data),
)


def trace_attributes(channel: str, data: object) -> dict[str, str | int | None]:
    """What a publication's span says: its chat (from the channel) and its message, if any."""
    message = data.get("message") if isinstance(data, dict) else None
    chat = channel.removeprefix(f"{centrifugo.CHAT_NAMESPACE}:")
    return {
        "chat_id": chat if chat.isdigit() else None,
        "message_id": message.get("id") if isinstance(message, dict) else None,
    }


def chat_subscriptions(subscriptions: Iterable[Sequence[int]]) -> list[tuple[str, int]]:
    """(chat id, user id) pairs as the (channel, user id) pairs Centrifugo unsubscribes."""
    return [(centrifugo.chat_channel(chat_id), user_id) for chat_id, user_id in subscriptions]


def end_subscriptions(subscriptions: Iterable[Sequence[int]]) -> str:
    """The task's side of ending (chat id, user id) subscriptions, when the web process's own
    call (chats.live.recording) failed: a failure is retried by the task, and the subscription
    tokens' expiry bounds it anyway."""
    try:
        centrifugo.unsubscribe(chat_subscriptions(subscriptions))
    except (CentError, OSError) as exc:
        raise TransientDeliveryError(describe_exception(exc)) from exc
    return "unsubscribed"

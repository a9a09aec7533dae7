"""Helpers of the chats tests: endpoint URLs, the shape of a refusal, the membership log, the
wait for emails to leave the outbox."""

from __future__ import annotations

import testing
from chats.models import MembershipEvent, Notification
from core.outbox import OutboxStatus


def url(chat_id: int, *rest: object) -> str:
    return "/api/chats/" + "/".join(str(part) for part in (chat_id, *rest)) + "/"


def assert_names(response, field: str, status: int) -> None:
    """The answer is `status` with a JSON body whose key is `field`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()


def events(chat_id: int) -> list[tuple[int, str]]:
    """The chat's joins and leaves, oldest first, as (user id, kind)."""
    return list(
        MembershipEvent.objects.filter(chat_id=chat_id)
        .order_by("id")
        .values_list("user_id", "kind")
    )


def all_done(timeout: float = 30, **filters: object) -> None:
    """Wait until every matching notification has left pending/sending (sent or failed)."""
    active = (OutboxStatus.PENDING, OutboxStatus.SENDING)
    testing.wait_until(
        lambda: not Notification.objects.filter(status__in=active, **filters).exists(),
        timeout,
        f"notifications {filters or ''} to be sent",
    )

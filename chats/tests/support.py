"""What the chats tests share: endpoint URLs, the shape of a refusal, the membership log, the wait
for emails to leave the outbox, and a real centrifuge-python WebSocket client for synchronous tests.

The client runs on its own asyncio loop in a thread, so a test can post through the API while it
listens, then assert on what arrived: publications per channel, how it (un)subscribed, why it was
disconnected.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from centrifuge import (
    Client,
    ClientEventHandler,
    DisconnectedContext,
    PublicationContext,
    SubscribedContext,
    SubscriptionErrorContext,
    SubscriptionEventHandler,
    SubscriptionState,
    UnsubscribedContext,
)

import testing
from chats.models import MembershipEvent, Notification
from core.outbox import OutboxStatus

# The site as the emails of the email tests name it (bodies here, headers by the worker).
PUBLIC = "https://chat.example.test"


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


@dataclass
class ChannelLog:
    publications: list[Any] = field(default_factory=list)
    subscribed: list[SubscribedContext] = field(default_factory=list)
    unsubscribed: list[UnsubscribedContext] = field(default_factory=list)
    errors: list[SubscriptionErrorContext] = field(default_factory=list)


class _ClientEvents(ClientEventHandler):
    def __init__(self, live: LiveClient) -> None:
        self.live = live

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        self.live.disconnects.append(ctx)


class _SubscriptionEvents(SubscriptionEventHandler):
    def __init__(self, log: ChannelLog) -> None:
        self.log = log

    async def on_publication(self, ctx: PublicationContext) -> None:
        self.log.publications.append(ctx.pub.data)

    async def on_subscribed(self, ctx: SubscribedContext) -> None:
        self.log.subscribed.append(ctx)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        self.log.unsubscribed.append(ctx)

    async def on_error(self, ctx: SubscriptionErrorContext) -> None:
        self.log.errors.append(ctx)


class LiveClient:
    """One WebSocket connection to Centrifugo, authenticated by `token`."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.disconnects: list[DisconnectedContext] = []
        self.channels: dict[str, ChannelLog] = {}
        self.client: Client = self._run(self._make(ws_url, token))

    async def _make(self, ws_url: str, token: str) -> Client:
        return Client(
            ws_url,
            events=_ClientEvents(self),
            token=token,
            proxy=None,
            min_reconnect_delay=0.1,
            max_reconnect_delay=0.5,
        )

    def _run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self) -> LiveClient:
        self._run(self.client.connect())
        return self

    def wait_connected(self, timeout: float = 10) -> None:
        self._run(self.client.ready(timeout=timeout), timeout=timeout + 1)

    def subscribe(
        self,
        channel: str,
        token: str,
        wait: bool = True,
        get_token: Callable[[str], Awaitable[str]] | None = None,
    ) -> ChannelLog:
        """Subscribe (recoverable, so a reconnect asks for what it missed); `get_token` refreshes
        the token when Centrifugo asks, as the chat page does."""
        log = self.channels[channel] = ChannelLog()

        async def start() -> None:
            sub = self.client.new_subscription(
                channel,
                events=_SubscriptionEvents(log),
                token=token,
                get_token=get_token,
                recoverable=True,
            )
            await sub.subscribe()

        self._run(start())
        if wait:
            testing.wait_until(lambda: log.subscribed, 10, f"subscribed to {channel}")
        return log

    def state(self, channel: str) -> SubscriptionState:
        return self.client.get_subscription(channel).state

    def disconnect(self) -> None:
        self._run(self.client.disconnect())

    def close(self) -> None:
        try:
            self._run(self.client.disconnect())
            self._run(self._cancel_the_rest())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()

    @staticmethod
    async def _cancel_the_rest() -> None:
        """Let the SDK's background tasks (socket close, keepalive) end before the loop stops."""
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


def message_events(log: ChannelLog, message_id: int) -> list[dict]:
    """The live events about one message on a chat channel."""
    return [p for p in log.publications if p.get("message", {}).get("id") == message_id]


def tokens(api, channel: str) -> tuple[str, str]:
    """A connection token and a subscription token, both from the API."""
    connection = api.get("/api/realtime/token/")
    subscription = api.get("/api/realtime/subscription-token/", {"channel": channel})
    assert connection.status_code == subscription.status_code == 200, subscription.content
    return connection.json()["token"], subscription.json()["token"]


def subscribed(
    listen: Callable[[str], LiveClient], api, channel: str
) -> tuple[LiveClient, ChannelLog]:
    """A client connected with this API user's tokens (`listen`: the fixture), subscribed to
    `channel`, and its channel log."""
    connection_token, subscription_token = tokens(api, channel)
    live = listen(connection_token)
    return live, live.subscribe(channel, subscription_token)


def post(api, chat_id: int, text: str) -> int:
    response = api.post(f"/api/chats/{chat_id}/messages/", {"text": text}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def wait_events(log, message_id: int, count: int = 1, timeout: float = 15) -> list[dict]:
    return testing.wait_until(
        lambda: len(message_events(log, message_id)) >= count and message_events(log, message_id),
        timeout,
        f"{count} live event(s) for message {message_id}",
    )

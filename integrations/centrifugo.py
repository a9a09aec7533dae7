"""The Centrifugo client shared by the chats (live messages) and metrics (live statistics) apps.

Publishing goes through `cent` with a short timeout; tokens are HS256 JWTs signed with the secret
that `centrifugo/config.json` reads from the environment.
"""

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import jwt
import requests
from cent import (
    BatchRequest,
    CentError,
    Client,
    PresenceStatsRequest,
    PublishRequest,
    UnsubscribeRequest,
)
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

CHAT_NAMESPACE = "chat"
STATS_CHANNEL = "stats:live"
# Every connection is subscribed here by its token (a server-side subscription), so the channel's
# presence counts the users online now, whatever page they have open.
ONLINE_CHANNEL = "online:users"


def chat_channel(chat_id: int) -> str:
    return f"{CHAT_NAMESPACE}:{chat_id}"


@lru_cache(maxsize=1)
def client() -> Client:
    """The server API client of the settings (CENTRIFUGO_API_URL), made once per process."""
    return api_client(
        settings.CENTRIFUGO_API_URL,
        settings.CENTRIFUGO_HTTP_API_KEY,
        timeout=settings.CENTRIFUGO_TIMEOUT,
    )


def api_client(url: str, api_key: str, timeout: float) -> Client:
    """A server API client for one address (a node, a load balancer)."""
    # Centrifugo's API is internal: no proxy from the environment applies, and not looking for
    # one spares requests a scan of os.environ on every call (about 2 ms of each API post).
    session = requests.Session()
    session.trust_env = False
    return Client(url, api_key, timeout=timeout, session=session)


def publish(channel: str, data: Any, idempotency_key: str | None = None) -> None:
    """Publish once; Centrifugo drops a repeat of the same key, so a retry cannot duplicate."""
    client().publish(PublishRequest(channel=channel, data=data, idempotency_key=idempotency_key))


def publish_batch(publications: list[tuple[str, Any, str]], timeout: float | None = None) -> None:
    """Publish (channel, data, idempotency key) triples in one HTTP call, in order; raises when
    Centrifugo does not answer within `timeout` or refuses any of them."""
    commands = [
        PublishRequest(channel=channel, data=data, idempotency_key=key)
        for channel, data, key in publications
    ]
    _batch(commands, parallel=False, timeout=timeout)


def unsubscribe(subscriptions: Iterable[tuple[str, int]], timeout: float | None = None) -> None:
    """End these (channel, user id) subscriptions now, on each of the user's connections, in one
    call (Centrifugo tells each client it was unsubscribed by the server, code 2000, and
    centrifuge-js does not resubscribe). A user not subscribed is no error."""
    commands = [
        UnsubscribeRequest(user=str(user_id), channel=channel) for channel, user_id in subscriptions
    ]
    if commands:
        _batch(commands, parallel=True, timeout=timeout)


def _batch(commands: list[Any], *, parallel: bool, timeout: float | None) -> None:
    """Send `commands` in one HTTP call; raises CentError when Centrifugo refuses any of them."""
    try:
        client().batch(BatchRequest(requests=commands, parallel=parallel), timeout=timeout)
    except (KeyError, TypeError) as exc:  # cent cannot parse a reply that carries an error
        raise CentError(f"Centrifugo refused a command of the batch: {exc!r}") from exc


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs: Any) -> None:
    """A test that changes the URL or key must not keep talking to the old server."""
    if setting.startswith("CENTRIFUGO_"):
        client.cache_clear()


def online_users() -> int | None:
    """Distinct users connected to Centrifugo now (every connection joins ONLINE_CHANNEL).

    None when Centrifugo does not answer: a statistics snapshot still gets its other numbers.
    """
    try:
        # Short: a first scrape of a fresh install computes the snapshot inside its request.
        request = PresenceStatsRequest(channel=ONLINE_CHANNEL)
        timeout = settings.CENTRIFUGO_REQUEST_TIMEOUT
        return client().presence_stats(request, timeout=timeout).num_users
    except (CentError, OSError):
        return None


def _token(claims: dict[str, Any], ttl: int) -> str:
    now = int(time.time())
    payload = {**claims, "iat": now, "exp": now + ttl}
    return jwt.encode(payload, settings.CENTRIFUGO_TOKEN_HMAC_SECRET_KEY, algorithm="HS256")


def connection_token(user_id: int, ttl: int | None = None) -> str:
    """Who the connection is; it also joins ONLINE_CHANNEL so it counts as online. Valid for
    CENTRIFUGO_TOKEN_TTL_SECONDS: it grants no channel that membership could take away."""
    claims = {"sub": str(user_id), "channels": [ONLINE_CHANNEL]}
    return _token(claims, ttl or settings.CENTRIFUGO_TOKEN_TTL_SECONDS)


def subscription_token(user_id: int, channel: str, ttl: int | None = None) -> str:
    """Permission to read one channel; issue it only after checking the user may read it.

    Valid for CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS only: Centrifugo OSS cannot revoke a
    token, so its lifetime bounds how long someone who lost access (a removed member, offline
    when the server unsubscribed them) can still subscribe with one they kept. The client
    refreshes it before it expires, and the refresh checks access again.
    """
    claims = {"sub": str(user_id), "channel": channel}
    return _token(claims, ttl or settings.CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS)

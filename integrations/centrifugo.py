"""The Centrifugo client shared by the chats (live messages) and metrics (live statistics) apps.

Publishing and unsubscribing, on the path of every message, post their JSON over a kept
connection (`ApiClient.call`); the rarer calls (presence, history) go through `cent`. Both
raise cent's errors (CentError) and wait at most their timeout. Tokens are HS256 JWTs signed with
the secret that `centrifugo/config.json` reads from the environment.
"""

import http.client
import json
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from cent import (
    CentApiResponseError,
    CentDecodeError,
    CentError,
    CentNetworkError,
    CentTransportError,
    CentUnauthorizedError,
    Client,
    PresenceStatsRequest,
)
from cent.exceptions import CentTimeoutError  # not re-exported by the package
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from opentelemetry import trace
from opentelemetry.trace import SpanKind

CHAT_NAMESPACE = "chat"
STATS_CHANNEL = "stats:live"
# Every connection is subscribed here by its token (a server-side subscription), so the channel's
# presence counts the users online now, whatever page they have open.
ONLINE_CHANNEL = "online:users"
# The calls on a message's path are spans of the trace they serve (docs/tracing.md): the API's
# no-op without tracing configured. Not core.tracing: this layer does not import core.
TRACER = trace.get_tracer("chatplatform.centrifugo")


def chat_channel(chat_id: int) -> str:
    return f"{CHAT_NAMESPACE}:{chat_id}"


class ApiClient(Client):
    """cent's client, plus `call`: one server API command as plain JSON over a kept connection.

    cent builds pydantic models for every request and reply (a TypeAdapter per call) and goes
    through requests and urllib3: about a quarter of the CPU of posting a message, which `call`
    cuts to a tenth (http.client on a connection each thread keeps open). It raises what cent
    would: CentNetworkError (no connection), CentTimeoutError, CentUnauthorizedError (401),
    CentTransportError (another status), CentDecodeError (not JSON) and CentApiResponseError
    (Centrifugo refused the command).
    """

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        # Centrifugo's API is internal: no proxy from the environment applies, and not looking
        # for one spares requests a scan of os.environ on every call (cent's calls).
        session = requests.Session()
        session.trust_env = False
        super().__init__(url, api_key, timeout=timeout, session=session)
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "localhost", parts.port
        self._path = parts.path.rstrip("/")
        self._headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
        self._timeout = timeout
        self._local = threading.local()  # each thread's (pid, connection)

    def call(self, method: str, payload: dict[str, Any], timeout: float | None = None) -> dict:
        """POST `payload` to the API's `method`; the decoded reply, once it carries no error."""
        seconds = timeout or self._timeout
        connection = self._connection(seconds)
        try:
            connection.request(
                "POST", f"{self._path}/{method}", json.dumps(payload).encode(), self._headers
            )
            response = connection.getresponse()
            body = response.read()
        except TimeoutError as exc:
            connection.close()
            raise CentTimeoutError("Request timeout") from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise CentNetworkError(f"{type(exc).__name__}: {exc}") from exc
        if response.status == 401:
            raise CentUnauthorizedError
        if response.status != 200:
            raise CentTransportError(status_code=response.status)
        try:
            reply = json.loads(body)
        except ValueError as exc:
            raise CentDecodeError from exc
        _raise_error(reply)
        return reply

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        """This thread's connection, kept between calls; a new one after a fork (a worker
        process must not share its parent's socket) or once the server closed it."""
        kept = getattr(self._local, "kept", None)
        if kept is None or kept[0] != os.getpid():
            if self._https:
                connection = http.client.HTTPSConnection(
                    self._host, self._port, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(self._host, self._port)
            kept = self._local.kept = (os.getpid(), connection)
        connection = kept[1]
        connection.timeout = timeout  # connecting
        if connection.sock is not None:
            connection.sock.settimeout(timeout)  # each send and receive
            if _closed_by_peer(connection.sock):
                connection.close()  # the next request connects again
        return connection


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle HTTP connection with something to read has been closed by the server (or
    broke): it cannot carry another request."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _raise_error(reply: Any) -> None:
    """Raise the error a reply (or a batch's reply to one command) carries."""
    if not isinstance(reply, dict):
        raise CentDecodeError
    error = reply.get("error")
    if error:
        raise CentApiResponseError(code=error.get("code", 0), message=error.get("message", ""))


@lru_cache(maxsize=1)
def client() -> ApiClient:
    """The server API client of the settings (CENTRIFUGO_API_URL), made once per process."""
    return api_client(
        settings.CENTRIFUGO_API_URL,
        settings.CENTRIFUGO_HTTP_API_KEY,
        timeout=settings.CENTRIFUGO_TIMEOUT,
    )


def api_client(url: str, api_key: str, timeout: float) -> ApiClient:
    """A server API client for one address (a node, a load balancer)."""
    return ApiClient(url, api_key, timeout=timeout)


def _publish_command(
    channel: str, data: Any, idempotency_key: str | None, sent_at: str
) -> dict[str, Any]:
    """One publish; its tag `sent_at` (epoch milliseconds of this call) reaches the clients with
    the publication, so a browser measures the time from here to its arrival."""
    command = {"channel": channel, "data": data, "tags": {"sent_at": sent_at}}
    if idempotency_key is not None:
        command["idempotency_key"] = idempotency_key
    return command


def _now_ms() -> str:
    return str(time.time_ns() // 1_000_000)


def publish(channel: str, data: Any, idempotency_key: str | None = None) -> None:
    """Publish once; Centrifugo drops a repeat of the same key, so a retry cannot duplicate."""
    with _span("centrifugo publish", 1):
        client().call("publish", _publish_command(channel, data, idempotency_key, _now_ms()))


def publish_batch(publications: list[tuple[str, Any, str]], timeout: float | None = None) -> None:
    """Publish (channel, data, idempotency key) triples in one HTTP call, in order; raises when
    Centrifugo does not answer within `timeout` or refuses any of them."""
    sent_at = _now_ms()
    commands = [
        {"publish": _publish_command(channel, data, key, sent_at)}
        for channel, data, key in publications
    ]
    with _span("centrifugo publish", len(commands)):
        _batch(commands, parallel=False, timeout=timeout)


def _span(name: str, commands: int) -> AbstractContextManager[trace.Span]:
    """A client span around one call to Centrifugo's API; a failure marks it as an error."""
    return TRACER.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes={"centrifugo.commands": commands}
    )


def unsubscribe(subscriptions: Iterable[tuple[str, int]], timeout: float | None = None) -> None:
    """End these (channel, user id) subscriptions now, on each of the user's connections, in one
    call (Centrifugo tells each client it was unsubscribed by the server, code 2000, and
    centrifuge-js does not resubscribe). A user not subscribed is no error."""
    commands = [
        {"unsubscribe": {"user": str(user_id), "channel": channel}}
        for channel, user_id in subscriptions
    ]
    if commands:
        with _span("centrifugo unsubscribe", len(commands)):
            _batch(commands, parallel=True, timeout=timeout)


def _batch(commands: list[dict[str, Any]], *, parallel: bool, timeout: float | None) -> None:
    """Send `commands` in one HTTP call; raises CentError when Centrifugo refuses any of them."""
    reply = client().call("batch", {"commands": commands, "parallel": parallel}, timeout=timeout)
    replies = reply.get("replies")
    if not isinstance(replies, list) or len(replies) != len(commands):
        raise CentDecodeError
    for answer in replies:
        _raise_error(answer)


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

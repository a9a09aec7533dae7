"""What a browser can do with Centrifugo, against a real one started from centrifugo/config.json.

Browsers reach the WebSocket port only: the server API, /metrics and /health answer on the
internal port. A WebSocket client holding valid tokens from our API reads its channels and
nothing more: publish, history and presence requests are refused with Centrifugo's permission
error (code 103), and nothing it tries to publish reaches anyone. Only Django publishes.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from cent import HistoryRequest
from centrifuge import ReplyError

import testing
from integrations import centrifugo

from .support import LiveClient, post, subscribed, wait_events

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Centrifugo's client protocol error codes.
PERMISSION_DENIED = 103
NOT_AVAILABLE = 108


def http_status(url: str, api_key: str | None = None) -> int:
    """The status of a POST (the API's method; /metrics and /health answer it too)."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    body = json.dumps({"channel": "chat:0", "data": {"type": "probe"}}).encode()  # no chat 0
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_api_metrics_and_health_answer_only_on_the_internal_port(centrifugo_service) -> None:
    public, internal = centrifugo_service.public_url, centrifugo_service.internal_url
    assert public != internal
    key = centrifugo_service.api_key
    for path in ("/api/publish", "/metrics", "/health"):
        assert http_status(public + path, key) == 404, path
    assert http_status(internal + "/api/publish", key) == 200
    assert http_status(internal + "/metrics") == 200
    assert http_status(internal + "/health") == 200


def refusal(live: LiveClient, command: str, channel: str, *args: Any) -> int | None:
    """The error code Centrifugo answers a client command with (None: it was allowed)."""
    coroutine = getattr(live.client, command)(channel, *args)
    try:
        asyncio.run_coroutine_threadsafe(coroutine, live.loop).result(10)
    except ReplyError as exc:
        return exc.code
    return None


def refusals(live: LiveClient, channel: str) -> dict[str, int | None]:
    return {
        "publish": refusal(live, "publish", channel, {"type": "forged", "text": "from a client"}),
        "history": refusal(live, "history", channel),
        "presence": refusal(live, "presence", channel),
        "presence_stats": refusal(live, "presence_stats", channel),
    }


@pytest.mark.usefixtures("live_worker")
def test_a_member_cannot_publish_or_read_history_or_presence_of_a_chat(
    team, client_for, listen
) -> None:
    channel = centrifugo.chat_channel(team.chat.pk)
    member, _ = subscribed(listen, client_for(team.member), channel)
    _, log = subscribed(listen, client_for(team.admin), channel)

    assert refusals(member, channel) == dict.fromkeys(
        ("publish", "history", "presence", "presence_stats"), PERMISSION_DENIED
    )

    # What Django publishes still arrives, after the refused attempt: the forged one never did.
    message_id = post(client_for(team.owner), team.chat.pk, "after the forgery")
    wait_events(log, message_id)
    assert not [p for p in log.publications if p.get("type") == "forged"]
    stored = centrifugo.client().history(HistoryRequest(channel=channel, limit=100))
    assert not [p for p in stored.publications if p.data.get("type") == "forged"]


def test_online_and_stats_channels_refuse_the_same(make_user, client_for, listen) -> None:
    staff = make_user(is_staff=True)
    # Its connection token also subscribes it to online:users (server-side).
    live, _ = subscribed(listen, client_for(staff), centrifugo.STATS_CHANNEL)
    # Where the namespace keeps no history or presence at all, Centrifugo says "not available"
    # (108) before it gets to the permission: refused just the same.
    assert refusals(live, centrifugo.STATS_CHANNEL) == {
        "publish": PERMISSION_DENIED,
        "history": PERMISSION_DENIED,
        "presence": NOT_AVAILABLE,
        "presence_stats": NOT_AVAILABLE,
    }
    assert refusals(live, centrifugo.ONLINE_CHANNEL) == {
        "publish": PERMISSION_DENIED,
        "history": NOT_AVAILABLE,
        "presence": PERMISSION_DENIED,
        "presence_stats": PERMISSION_DENIED,
    }
    testing.wait_until(lambda: centrifugo.online_users() == 1, 10, "the server API still counts")

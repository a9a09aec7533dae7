"""Live chat events end to end: API -> outbox -> real Celery worker -> real Centrifugo -> a real
WebSocket subscriber (centrifuge-python) holding tokens from the API.
"""

from __future__ import annotations

import time

import jwt
import pytest
from centrifuge import ClientState, SubscriptionState

import testing
from chats import services
from chats.models import Publication
from core.outbox import OutboxStatus
from integrations import centrifugo

from .support import message_events, post, subscribed, tokens, wait_events

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Long enough for PyJWT to sign without a warning (it warns below 32 bytes, after RFC 7518),
# wrong all the same.
NOT_THE_SECRET = "not-the-secret-but-just-as-long-as-one"


@pytest.mark.usefixtures("live_worker")
def test_subscriber_sees_a_message_posted_edited_and_deleted(team, client_for, listen):
    channel = centrifugo.chat_channel(team.chat.pk)
    member_api, author_api = client_for(team.member), client_for(team.admin)
    _, log = subscribed(listen, member_api, channel)

    message_id = post(author_api, team.chat.pk, "hello, live world")
    [created] = wait_events(log, message_id)
    assert created["type"] == "message_created"
    assert created["message"]["text"] == "hello, live world"
    assert created["message"]["author"] == team.admin.username

    url = f"/api/chats/{team.chat.pk}/messages/{message_id}/"
    assert author_api.patch(url, {"text": "edited"}, format="json").status_code == 200
    assert author_api.delete(url).status_code == 204
    events = wait_events(log, message_id, count=3)
    assert [e["type"] for e in events] == ["message_created", "message_edited", "message_deleted"]
    assert events[1]["message"]["text"] == "edited"
    assert events[2]["message"]["deleted"] is True
    assert events[2]["message"]["text"] == ""  # a deleted text does not leak to subscribers


def test_centrifugo_refuses_tampered_and_expired_tokens(
    centrifugo_service, team, make_user, client_for, listen
):
    channel = centrifugo.chat_channel(team.chat.pk)
    connection_token, subscription_token = tokens(client_for(team.member), channel)

    # A connection token whose payload was edited (another user id) keeps the old signature.
    header, _payload, signature = connection_token.split(".")
    forged = jwt.encode({"sub": str(team.owner.pk)}, NOT_THE_SECRET, algorithm="HS256")
    tampered = ".".join([header, forged.split(".")[1], signature])
    expired = centrifugo.connection_token(team.member.pk, ttl=-60)
    for bad in (tampered, expired):
        live = listen(bad)
        testing.wait_until(lambda live=live: live.disconnects, 10, "Centrifugo to refuse")
        assert live.client.state == ClientState.DISCONNECTED

    # A valid connection cannot read a chat with a token for another channel or a forged one.
    other_chat = services.create_chat(title="Private", creator_id=team.owner.pk)
    other_channel = centrifugo.chat_channel(other_chat.pk)
    forged_subscription = jwt.encode(
        {"sub": str(team.member.pk), "channel": other_channel, "exp": int(time.time()) + 60},
        NOT_THE_SECRET,
        algorithm="HS256",
    )
    for token in (subscription_token, forged_subscription):
        live = listen(connection_token)
        live.wait_connected()
        channel_log = live.subscribe(other_channel, token, wait=False)
        # Centrifugo answers "permission denied" (forged) or drops the connection (a token for
        # another channel); either way nothing is subscribed.
        testing.wait_until(
            lambda live=live, log=channel_log: log.unsubscribed or live.disconnects,
            10,
            "the subscription to be refused",
        )
        assert channel_log.subscribed == []
        assert live.state(other_channel) != SubscriptionState.SUBSCRIBED
    # ...and the API would not have given it one.
    refused = client_for(team.member).get(
        "/api/realtime/subscription-token/", {"channel": other_channel}
    )
    assert refused.status_code == 403


@pytest.mark.usefixtures("live_worker")
def test_reconnecting_client_recovers_what_it_missed(team, client_for, listen):
    channel = centrifugo.chat_channel(team.chat.pk)
    live, log = subscribed(listen, client_for(team.member), channel)
    before = post(client_for(team.admin), team.chat.pk, "before the tunnel")
    wait_events(log, before)

    live.disconnect()
    missed = [post(client_for(team.admin), team.chat.pk, f"missed {n}") for n in range(3)]
    testing.wait_until(
        lambda: Publication.objects.filter(channel=channel, status=OutboxStatus.SENT).count() == 4,
        15,
        "the missed events to be published while the client was away",
    )
    live.connect()
    for message_id in missed:
        assert len(wait_events(log, message_id)) == 1
    assert log.subscribed[-1].was_recovering and log.subscribed[-1].recovered
    assert len(message_events(log, before)) == 1  # recovery does not repeat what it had


def test_online_users_counts_distinct_connected_users(team, client_for, listen, settings):
    testing.wait_until(lambda: centrifugo.online_users() == 0, 10, "earlier clients to leave")
    for user in (team.member, team.member, team.admin):  # the member has two tabs open
        listen(tokens(client_for(user), centrifugo.chat_channel(team.chat.pk))[0]).wait_connected()
    assert testing.wait_until(lambda: centrifugo.online_users() == 2, 10, "2 users online")

    settings.CENTRIFUGO_API_URL = f"http://127.0.0.1:{testing.free_port()}/api"
    assert centrifugo.online_users() is None  # Centrifugo unreachable: unknown, not an error

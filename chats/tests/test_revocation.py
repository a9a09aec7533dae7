"""A member removed from a chat stops receiving it at once, not when their subscription token
expires: real Centrifugo, real WebSocket clients holding tokens from the API."""

from __future__ import annotations

import time

import pytest
from centrifuge import SubscriptionState

import testing
from integrations import centrifugo

from .helpers import url
from .live import LiveClient, message_events, post, tokens, wait_events

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def listen(centrifugo_service):
    """Connect a WebSocket client to the test Centrifugo; every client is closed afterwards."""
    clients: list[LiveClient] = []

    def connect(connection_token: str) -> LiveClient:
        live = LiveClient(centrifugo_service.ws_url, connection_token).connect()
        clients.append(live)
        return live

    yield connect
    for live in clients:
        live.close()


def subscribed(api, listen, channel: str):
    """A connected client of this API user, subscribed to `channel`, and its channel log."""
    connection_token, subscription_token = tokens(api, channel)
    live = listen(connection_token)
    return live, live.subscribe(channel, subscription_token)


def test_a_removed_member_receives_nothing_more_at_once(team, client_for, listen):
    channel = centrifugo.chat_channel(team.chat.pk)
    owner_api, member_api = client_for(team.owner), client_for(team.member)
    removed, removed_log = subscribed(member_api, listen, channel)
    _, staying_log = subscribed(client_for(team.admin), listen, channel)
    before = post(owner_api, team.chat.pk, "before the removal")
    wait_events(removed_log, before)

    assert owner_api.delete(url(team.chat.pk, "members", team.member.pk)).status_code == 204
    after = post(owner_api, team.chat.pk, "after the removal")  # no wait: at once

    wait_events(staying_log, after)  # the remaining member receives it...
    time.sleep(0.5)  # ...and whatever was on its way to the removed one would be here by now
    assert message_events(removed_log, after) == []
    assert removed.state(channel) == SubscriptionState.UNSUBSCRIBED
    assert removed_log.unsubscribed and removed_log.unsubscribed[-1].code == 2000  # by the server
    assert removed.disconnects == []  # only this chat ended, not the connection
    refused = member_api.get("/api/realtime/subscription-token/", {"channel": channel})
    assert refused.status_code == 403


def test_deleting_a_chat_unsubscribes_every_member_at_once(team, client_for, listen):
    channel = centrifugo.chat_channel(team.chat.pk)
    clients = [
        subscribed(client_for(user), listen, channel)
        for user in (team.owner, team.admin, team.member)
    ]
    assert client_for(team.owner).delete(url(team.chat.pk)).status_code == 204
    for live, log in clients:
        testing.wait_until(lambda log=log: log.unsubscribed, 2, "the server to unsubscribe")
        assert live.state(channel) == SubscriptionState.UNSUBSCRIBED


@pytest.mark.usefixtures("live_worker")
def test_when_centrifugo_does_not_answer_the_web_process_the_live_queue_unsubscribes(
    team, client_for, listen, settings
):
    """The fallback: the web process cannot reach Centrifugo (here: a wrong address in this
    process only), so the `live` worker's task unsubscribes the member."""
    channel = centrifugo.chat_channel(team.chat.pk)
    _, removed_log = subscribed(client_for(team.member), listen, channel)
    settings.CENTRIFUGO_API_URL = f"http://127.0.0.1:{testing.free_port()}/api"
    response = client_for(team.owner).delete(url(team.chat.pk, "members", team.member.pk))
    assert response.status_code == 204
    testing.wait_until(lambda: removed_log.unsubscribed, 15, "the worker to unsubscribe")
    assert removed_log.unsubscribed[-1].code == 2000

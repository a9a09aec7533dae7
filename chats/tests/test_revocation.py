"""A member removed from a chat stops receiving it at once, not when their subscription token
expires: real Centrifugo, real WebSocket clients holding tokens from the API. A member offline
at the removal is held off by the subscription token's short lifetime: the old token expires,
and the API refuses a new one."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import unquote

import jwt
import pytest
from centrifuge import SubscriptionState, UnauthorizedError
from django.conf import settings as django_settings
from django.db import connection

import testing
from chats import services
from chats.models import Membership
from integrations import centrifugo

from .support import (
    ChannelLog,
    LiveClient,
    message_events,
    post,
    subscribed,
    tokens,
    url,
    wait_events,
)

SUB_TOKEN_URL = "/api/realtime/subscription-token/"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_removed_member_receives_nothing_more_at_once(team, client_for, listen):
    channel = centrifugo.chat_channel(team.chat.pk)
    owner_api, member_api = client_for(team.owner), client_for(team.member)
    removed, removed_log = subscribed(listen, member_api, channel)
    _, staying_log = subscribed(listen, client_for(team.admin), channel)
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
        subscribed(listen, client_for(user), channel)
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
    _, removed_log = subscribed(listen, client_for(team.member), channel)
    settings.CENTRIFUGO_API_URL = f"http://127.0.0.1:{testing.free_port()}/api"
    response = client_for(team.owner).delete(url(team.chat.pk, "members", team.member.pk))
    assert response.status_code == 204
    testing.wait_until(lambda: removed_log.unsubscribed, 15, "the worker to unsubscribe")
    assert removed_log.unsubscribed[-1].code == 2000


class Browser:
    """What the chat page does (web/static/web/realtime.js): subscribe with a token from the
    API and, through `get_token`, ask the API again whenever Centrifugo wants a new one; a 401 or
    403 is an UnauthorizedError, which ends the subscription."""

    def __init__(self, live: LiveClient, api, channel: str) -> None:
        self.live, self.api, self.channel = live, api, channel
        self.token_answers: list[int] = []  # HTTP status of each get_token call to the API

    def _ask_api(self, channel: str):
        try:
            return self.api.get(SUB_TOKEN_URL, {"channel": channel})
        finally:
            connection.close()  # a thread of its own: leave no database connection behind

    async def get_token(self, channel: str) -> str:
        response = await asyncio.to_thread(self._ask_api, channel)
        self.token_answers.append(response.status_code)
        if response.status_code in (401, 403):
            raise UnauthorizedError(f"{response.status_code}")
        assert response.status_code == 200, response.content
        return response.json()["token"]

    def subscribe(self, token: str) -> ChannelLog:
        return self.live.subscribe(self.channel, token, get_token=self.get_token)


def expiry(token: str) -> int:
    return jwt.decode(token, options={"verify_signature": False})["exp"]


@pytest.fixture
def short_subscription_tokens(settings):
    """Subscription tokens that expire in 2 s, so a test sees expiry and refresh happen."""
    settings.CENTRIFUGO_SUBSCRIPTION_TOKEN_TTL_SECONDS = 2
    return 2


def test_subscription_tokens_expire_soon_and_the_page_refreshes_them(
    team, client_for, listen, short_subscription_tokens
):
    channel = centrifugo.chat_channel(team.chat.pk)
    member_api = client_for(team.member)
    connection_token, subscription_token = tokens(member_api, channel)
    claims = [
        jwt.decode(t, options={"verify_signature": False})
        for t in (connection_token, subscription_token)
    ]
    assert claims[1]["exp"] - claims[1]["iat"] == short_subscription_tokens
    # The connection token keeps its own, longer lifetime: it grants no chat.
    assert claims[0]["exp"] - claims[0]["iat"] == django_settings.CENTRIFUGO_TOKEN_TTL_SECONDS

    browser = Browser(listen(connection_token), member_api, channel)
    log = browser.subscribe(subscription_token)
    testing.wait_until(lambda: len(browser.token_answers) >= 2, 10, "two token refreshes")
    assert set(browser.token_answers) == {200}
    message = post(client_for(team.owner), team.chat.pk, "still here after the refreshes")
    wait_events(log, message)
    assert log.unsubscribed == []


def test_a_member_removed_while_offline_cannot_resubscribe_once_the_token_expired(
    team, client_for, listen, short_subscription_tokens
):
    """The reviewer's case: the member's page was offline when removed, so no unsubscribe
    reached it. It comes back with the token it kept; Centrifugo refuses the expired token,
    the API refuses a new one, and the message posted after the removal never arrives
    (force_recovery would otherwise hand it over)."""
    channel = centrifugo.chat_channel(team.chat.pk)
    owner_api, member_api = client_for(team.owner), client_for(team.member)
    connection_token, old_token = tokens(member_api, channel)
    browser = Browser(listen(connection_token), member_api, channel)
    log = browser.subscribe(old_token)
    browser.live.disconnect()  # offline (a laptop lid closed)

    assert owner_api.delete(url(team.chat.pk, "members", team.member.pk)).status_code == 204
    after = post(owner_api, team.chat.pk, "after the removal")
    testing.wait_until(lambda: time.time() > expiry(old_token) + 0.5, 5, "the old token expires")

    browser.live.connect()  # back online: the client resubscribes with the token it kept
    testing.wait_until(lambda: log.unsubscribed, 10, "the subscription to end")
    assert [e.error.code for e in log.errors if hasattr(e.error, "code")] == [109]
    assert browser.token_answers == [403]
    assert browser.live.state(channel) == SubscriptionState.UNSUBSCRIBED
    time.sleep(0.5)
    assert message_events(log, after) == []


def test_deleting_an_account_outside_the_api_ends_its_live_subscriptions(team, client_for, listen):
    """As a shell does (chats.signals): the memberships go with the account, and so do its
    open subscriptions, in every chat it was in (one it owned passes on), once the deletion
    commits."""
    channel = centrifugo.chat_channel(team.chat.pk)
    side = services.create_chat(title="Side", creator_id=team.member.pk)
    services.add_member(chat_id=side.pk, actor_id=team.member.pk, user_id=team.admin.pk)
    member_api = client_for(team.member)
    _, removed_log = subscribed(listen, member_api, channel)
    _, removed_side_log = subscribed(listen, member_api, centrifugo.chat_channel(side.pk))
    _, staying_log = subscribed(listen, client_for(team.admin), channel)

    team.member.delete()
    for log in (removed_log, removed_side_log):
        testing.wait_until(lambda log=log: log.unsubscribed, 2, "the server to unsubscribe")
        assert log.unsubscribed[-1].code == 2000  # by the server, not by token expiry
    after = post(client_for(team.owner), team.chat.pk, "after the deletion")
    wait_events(staying_log, after)
    assert message_events(removed_log, after) == []


@pytest.mark.usefixtures("centrifugo_service")
def test_the_chat_page_refreshes_its_token_and_a_refusal_ends_the_subscription(
    team, open_page, short_subscription_tokens
):
    """The page's own centrifuge-js (realtime.js): it asks the API for a new subscription token
    as each one expires, and a 403 ends the subscription. The membership goes without the
    server unsubscribe here (as if that never reached Centrifugo), so only the refresh can end
    it."""
    channel = centrifugo.chat_channel(team.chat.pk)
    reader = open_page(team.member, f"/chat/?chat={team.chat.pk}")
    reader.wait_for_selector(f"body[data-subscribed-chat='{team.chat.pk}']")

    def token_request(response) -> bool:
        return SUB_TOKEN_URL in response.url and channel in unquote(response.url)

    # Playwright delivers events only while it waits, so wait through it.
    refresh = reader.wait_for_event("response", token_request, timeout=10_000)
    assert refresh.status == 200
    services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text="still a member")
    reader.locator("#messages li", has_text="still a member").wait_for()

    Membership.objects.filter(chat=team.chat, user=team.member).delete()
    refused = reader.wait_for_event("response", token_request, timeout=10_000)
    assert refused.status == 403
    services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text="not for you")
    reader.wait_for_timeout(1_000)  # a live event takes milliseconds; it would be here by now
    assert reader.locator("#messages li", has_text="not for you").count() == 0
    # centrifuge-js took the 403 as final: the subscription is over, not retrying.
    state = reader.evaluate("(ch) => Realtime.client.getSubscription(ch).state", channel)
    assert state == "unsubscribed"

"""The token endpoints: who may read which channel. Centrifugo itself is in test_realtime_live."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from integrations import centrifugo

TOKEN_URL = "/api/realtime/token/"
SUB_URL = "/api/realtime/subscription-token/"


def claims(token: str) -> dict:
    return jwt.decode(token, settings.CENTRIFUGO_TOKEN_HMAC_SECRET_KEY, algorithms=["HS256"])


def test_connection_token_names_the_user_expires_soon_and_joins_the_online_channel(
    team, client_for
):
    response = client_for(team.member).get(TOKEN_URL)
    assert response.status_code == 200
    payload = claims(response.json()["token"])
    assert payload["sub"] == str(team.member.pk)
    assert payload["channels"] == [centrifugo.ONLINE_CHANNEL]
    assert payload["exp"] - payload["iat"] == settings.CENTRIFUGO_TOKEN_TTL_SECONDS


def test_member_gets_a_subscription_token_for_their_chat_only(team, client_for):
    channel = f"chat:{team.chat.pk}"
    response = client_for(team.member).get(SUB_URL, {"channel": channel})
    assert response.status_code == 200
    payload = claims(response.json()["token"])
    assert (payload["sub"], payload["channel"]) == (str(team.member.pk), channel)


@pytest.mark.parametrize("channel", ["chat:{chat}", "chat:999999999999999999", "stats:live"])
def test_outsider_is_refused_a_subscription_token(team, client_for, channel):
    response = client_for(team.outsider).get(
        SUB_URL, {"channel": channel.format(chat=team.chat.pk)}
    )
    assert response.status_code == 403
    assert "channel" in response.json()


@pytest.mark.parametrize(
    "channel",
    ["", "chat:", "chat:abc", "chat:1:2", "chat:9999999999999999999", "online:users", "x"],
)
def test_malformed_channel_is_a_400_naming_channel(team, client_for, channel):
    response = client_for(team.member).get(SUB_URL, {"channel": channel})
    assert response.status_code == 400
    assert "channel" in response.json()


def test_missing_channel_is_a_400_naming_channel(team, client_for):
    response = client_for(team.member).get(SUB_URL)
    assert response.status_code == 400
    assert "channel" in response.json()


def test_staff_gets_the_live_statistics_channel(make_user, client_for):
    staff = make_user("operator", is_staff=True)
    response = client_for(staff).get(SUB_URL, {"channel": centrifugo.STATS_CHANNEL})
    assert response.status_code == 200
    assert claims(response.json()["token"])["channel"] == centrifugo.STATS_CHANNEL


@pytest.mark.parametrize("url", [TOKEN_URL, SUB_URL + "?channel=stats:live"])
def test_anonymous_gets_401(db, url):
    assert APIClient().get(url).status_code == 401


def test_browser_session_gets_a_token(team, client):
    """The pages use the Django session, not a DRF token."""
    client.force_login(team.member)
    response = client.get(TOKEN_URL)
    assert response.status_code == 200
    assert claims(response.json()["token"])["sub"] == str(team.member.pk)

"""Session-authenticated API writes need Django's CSRF token, so another site cannot make a
logged-in browser post messages or change members; token-authenticated clients (no ambient
credential a browser would send by itself) do not. Django's test client skips CSRF unless told
otherwise: these clients enforce it, as a browser's session would."""

from __future__ import annotations

import pytest
from django.test import Client

from chats.models import Membership, Message
from testing.people import PASSWORD

from .support import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_for():
    """A client logged in through the session, with CSRF checks on and the CSRF cookie that
    the chat page (which posts with the session) sets."""

    def make(user) -> Client:
        client = Client(enforce_csrf_checks=True)
        assert client.login(username=user.username, password=PASSWORD)
        assert client.get("/chat/").status_code == 200
        assert "csrftoken" in client.cookies
        return client

    return make


def writes(team) -> list[tuple[str, dict]]:
    return [
        (url(team.chat.pk, "messages"), {"text": "from a session"}),
        (url(team.chat.pk, "members"), {"user_id": team.outsider.pk}),
    ]


def test_session_writes_without_the_csrf_token_are_refused(team, session_for):
    client = session_for(team.owner)
    for path, body in writes(team):
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 403, (path, response.content)
        assert "CSRF" in response.json()["detail"]
    assert not Message.objects.exists()
    assert not Membership.objects.filter(user=team.outsider).exists()


def test_session_writes_with_the_csrf_token_from_the_cookie_succeed(team, session_for):
    client = session_for(team.owner)
    token = client.cookies["csrftoken"].value
    for path, body in writes(team):
        response = client.post(path, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 201, (path, response.content)


def test_a_cross_site_origin_is_refused_even_with_the_token(team, session_for):
    """What a page on another site could send with the victim's cookies, had it the token."""
    client = session_for(team.owner)
    response = client.post(
        url(team.chat.pk, "messages"),
        {"text": "from elsewhere"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_token_clients_need_no_csrf_token(team, client_for):
    client = client_for(team.owner)
    client.enforce_csrf_checks = True
    response = client.post(url(team.chat.pk, "messages"), {"text": "api"}, format="json")
    assert response.status_code == 201


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_the_browser_a_post_without_the_csrf_header_is_refused(
    team, open_page, centrifugo_service
):
    """The chat page's own fetch sends X-CSRFToken; the same fetch without it gets 403."""
    page = open_page(team.member, f"/chat/?chat={team.chat.pk}")
    send = """async ([path, withToken]) => {
        const headers = {"Content-Type": "application/json"};
        if (withToken) {
            headers["X-CSRFToken"] = document.cookie.match(/csrftoken=([^;]+)/)[1];
        }
        const response = await fetch(path, {
            method: "POST", credentials: "same-origin", headers,
            body: JSON.stringify({text: "typed in the console"}),
        });
        return response.status;
    }"""
    path = url(team.chat.pk, "messages")
    assert page.evaluate(send, [path, False]) == 403
    assert page.evaluate(send, [path, True]) == 201
    assert Message.objects.filter(text="typed in the console").count() == 1

"""STATS_READ_TOKEN, the read-only token of a machine with no account (compose's Jupyter): as
`Authorization: Bearer <token>` it reads GET /api/stats/ from the real app (live server, real
Redis) and nothing else, on no URL of the platform; a wrong token, or any while the setting is
empty, is refused; staff users' own tokens keep working. With DEBUG off a placeholder or short
one stops the start, naming it; empty (none) starts.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

import testing
from metrics import snapshot

TOKEN = secrets.token_urlsafe(48)


def get(url: str, authorization: str = "", method: str = "GET") -> tuple[int, bytes]:
    """Status and body of a request to the live server, as a notebook's HTTP client sends it."""
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)  # noqa: S310
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - live server
            return response.status, response.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


@pytest.fixture
def stats(settings, live_server, redis_service, django_user_model) -> dict:
    """The snapshot the real /api/stats/ serves, with STATS_READ_TOKEN set."""
    settings.STATS_READ_TOKEN = TOKEN
    snapshot.redis_client().flushdb()
    django_user_model.objects.create_user("member", password="a-long-test-password")
    return snapshot.refresh_snapshot()


@pytest.mark.django_db(transaction=True)
def test_the_token_reads_the_stats_and_a_wrong_one_is_refused(settings, live_server, stats):
    url = f"{live_server.url}/api/stats/"
    status, body = get(url, f"Bearer {TOKEN}")
    assert status == 200
    assert json.loads(body) == snapshot.load_snapshot() and json.loads(body)["users"] == 1
    assert get(url, f"bearer {TOKEN}")[0] == 200  # the scheme in any case (RFC 7235)

    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", "Bearer not-it", f"Token {TOKEN}"):
        status, body = get(url, wrong)
        assert status == 401, wrong
        assert b'"users"' not in body
    assert get(url)[0] == 401

    settings.STATS_READ_TOKEN = ""  # none set: no bearer token reads anything
    assert get(url, f"Bearer {TOKEN}")[0] == 401
    assert get(url, "Bearer ")[0] == 401


@pytest.mark.django_db(transaction=True)
def test_the_token_opens_no_other_endpoint_and_writes_nothing(live_server, stats):
    bearer = f"Bearer {TOKEN}"
    for path in ("/api/chats/", "/api/account/", "/api/invitations/", "/api/realtime/token/"):
        status, body = get(f"{live_server.url}{path}", bearer)
        assert status in (401, 403), path
        assert b"results" not in body, path
    # Not even another method on the stats endpoint itself.
    assert get(f"{live_server.url}/api/stats/", bearer, method="POST")[0] == 403
    assert get(f"{live_server.url}/api/chats/", bearer, method="POST")[0] in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_staff_user_tokens_still_read_the_stats(live_server, stats, django_user_model):
    staff = django_user_model.objects.create_user("analyst", password="x" * 20, is_staff=True)
    plain = django_user_model.objects.get(username="member")
    url = f"{live_server.url}/api/stats/"
    assert get(url, f"Token {Token.objects.create(user=staff).key}")[0] == 200
    assert get(url, f"Token {Token.objects.create(user=plain).key}")[0] == 403


def urls() -> list[str]:
    """Every route of the platform, its parameters filled with a plausible value."""
    found: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and not re.search(r"[\^$(?\\]", route):
                found.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", "1", route))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


@pytest.mark.django_db
def test_on_every_url_the_token_gets_what_a_stranger_gets(settings, redis_service):
    """The token opens /api/stats/ and no other route: wherever a client without credentials
    is refused (API, pages, admin, dashboards, /metrics), one with the token is refused too."""
    settings.STATS_READ_TOKEN = TOKEN
    settings.METRICS_BEARER_TOKEN = secrets.token_urlsafe(48)
    routes = urls()
    assert {"/api/stats/", "/api/chats/", "/admin/", "/metrics", "/live/"} <= set(routes)
    opened = []
    for path in routes:
        stranger = Client().get(path).status_code
        with_token = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code
        if stranger >= 300 and with_token < 300:
            opened.append(path)
    assert opened == ["/api/stats/"]


# --- the setting ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["change-me", "short-token"])
def test_without_debug_a_placeholder_or_short_token_stops_the_start(value: str) -> None:
    result = testing.manage_check(STATS_READ_TOKEN=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured: STATS_READ_TOKEN must be" in result.stderr


@pytest.mark.parametrize("value", ["", TOKEN])
def test_without_debug_no_token_or_a_real_one_starts(value: str) -> None:
    result = testing.manage_check(STATS_READ_TOKEN=value)
    assert result.returncode == 0, result.stderr

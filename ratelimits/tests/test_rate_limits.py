"""Rate limits as a stranger meets them: two real web processes (gunicorn) share one real Redis
and the test database, requests alternate between them, and the limit counts each client and
account once across both; the (N+1)th attempt, on either process, is a 429 with Retry-After.

The servers trust one proxy (TRUSTED_PROXY_COUNT=1), so each test poses as its own clients
through X-Forwarded-For, and the shared cache is emptied before each test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import requests
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ratelimits.models import RefusedAttempt
from testing.processes import django_env, free_port, manage_check
from testing.services import RedisProcess, WebProcess

LIMITS = {"AUTH_RATE_LIMIT": "3/min", "REGISTER_RATE_LIMIT": "2/hour", "WRITE_RATE_LIMIT": "4/min"}


def server_env(redis_service: RedisProcess, **limits: str) -> dict[str, str]:
    return django_env(
        REDIS_URL=redis_service.url,
        CELERY_BROKER_URL=redis_service.url,
        CACHE_URL=redis_service.cache_url,
        TRUSTED_PROXY_COUNT=1,
        CENTRIFUGO_PUBLISH_AFTER_COMMIT="false",  # no Centrifugo here: straight to the outbox
        **limits,
    )


@pytest.fixture(scope="module")
def servers(redis_service: RedisProcess, django_db_setup: None) -> Iterator[list[str]]:
    """Two web processes with small limits; yields their base URLs."""
    env = server_env(redis_service, **LIMITS)
    with WebProcess(env, "web-a") as a, WebProcess(env, "web-b") as b:
        yield [a.url, b.url]


def attempt(base: str, client: str, username: str, path: str = "/api/auth/token/"):
    """One login attempt from `client` (as the trusted proxy reports it), wrong password."""
    return requests.post(
        base + path,
        json={"username": username, "password": "guess"},
        headers={"X-Forwarded-For": client},
        timeout=10,
    )


def token_header(user: object) -> dict[str, str]:
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def assert_refused(response: requests.Response, at_most: int) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= at_most


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
class TestAcrossTwoWebProcesses:
    def test_token_attempts_per_client_are_counted_once_across_both(self, servers, shared_cache):
        for n in range(3):  # a, b, a: three different accounts, one client
            assert attempt(servers[n % 2], "203.0.113.7", f"someone{n}").status_code == 400
        assert_refused(attempt(servers[1], "203.0.113.7", "someone3"), at_most=60)
        assert_refused(attempt(servers[0], "203.0.113.7", "someone4"), at_most=60)
        # Another client behind the same proxy is counted on its own.
        assert attempt(servers[1], "203.0.113.8", "someone5").status_code == 400

    def test_one_account_stays_limited_from_any_address(self, servers, shared_cache):
        for n, name in enumerate(["victim", "Victim", "VICTIM "]):  # one account, any case
            assert attempt(servers[n % 2], f"198.51.100.{n}", name).status_code == 400
        assert_refused(attempt(servers[1], "198.51.100.99", "victim"), at_most=60)
        assert attempt(servers[0], "198.51.100.99", "someone-else").status_code == 400

    def test_the_login_pages_share_the_limit_and_count_posts_only(self, servers, shared_cache):
        """/login/, /admin/login/ and the token count together: three attempts in all."""
        client = {"X-Forwarded-For": "192.0.2.44"}
        browser = requests.Session()
        form = browser.get(servers[0] + "/login/", headers=client, timeout=10)
        assert form.status_code == 200
        guess = {"username": "alice", "password": "guess"}
        guess["csrfmiddlewaretoken"] = browser.cookies["csrftoken"]
        for base, path in [(servers[0], "/login/"), (servers[1], "/admin/login/")]:
            response = browser.post(base + path, data=guess, headers=client, timeout=10)
            assert response.status_code == 200  # the form again, with its error
            assert "password" in response.text.lower()
        assert attempt(servers[0], "192.0.2.44", "bob").status_code == 400
        for base, path in [(servers[1], "/login/"), (servers[0], "/admin/login/")]:
            response = browser.post(base + path, data=guess, headers=client, timeout=10)
            assert_refused(response, at_most=60)
            assert "Too many attempts" in response.text
        # Showing the form is no attempt.
        assert browser.get(servers[1] + "/login/", headers=client, timeout=10).status_code == 200

    def test_registrations_per_client(self, servers, shared_cache):
        def register(n: int, client: str) -> requests.Response:
            body = {"username": f"newcomer{n}", "email": f"new{n}@example.com"}
            body["password"] = "a-long-enough-passphrase"
            return requests.post(
                servers[n % 2] + "/api/auth/register/",
                json=body,
                headers={"X-Forwarded-For": client},
                timeout=10,
            )

        assert register(0, "203.0.113.20").status_code == 201
        assert register(1, "203.0.113.20").status_code == 201
        assert_refused(register(2, "203.0.113.20"), at_most=3600)
        assert register(3, "203.0.113.21").status_code == 201

    def test_writes_per_user_and_another_user_is_unaffected(self, servers, shared_cache, make_user):
        alice, bob, carol = make_user(), make_user(), make_user()
        alice_auth, bob_auth = token_header(alice), token_header(bob)

        def write(n: int, path: str, body: dict) -> requests.Response:
            return requests.post(servers[n % 2] + path, json=body, headers=alice_auth, timeout=10)

        # Four writes, alternating between the processes: a chat, a member, two messages.
        chat = write(0, "/api/chats/", {"title": "Busy"}).json()["id"]
        members, messages = f"/api/chats/{chat}/members/", f"/api/chats/{chat}/messages/"
        assert write(1, members, {"user_id": bob.pk}).status_code == 201
        assert write(2, messages, {"text": "one"}).status_code == 201
        assert write(3, messages, {"text": "two"}).status_code == 201
        refused = requests.post(
            servers[0] + messages, json={"text": "5"}, headers=alice_auth, timeout=10
        )
        assert_refused(refused, at_most=60)
        # Membership changes are writes too; reading is not.
        refused = requests.post(
            servers[1] + members, json={"user_id": carol.pk}, headers=alice_auth, timeout=10
        )
        assert_refused(refused, at_most=60)
        assert requests.get(servers[1] + messages, headers=alice_auth, timeout=10).ok
        sent = requests.post(
            servers[1] + messages, json={"text": "hi"}, headers=bob_auth, timeout=10
        )
        assert sent.status_code == 201

    def test_the_admin_sees_the_refusals_and_can_clear_a_limit(
        self, servers, shared_cache, make_user, client
    ):
        for n in range(5):
            attempt(servers[n % 2], "203.0.113.99", "target")
        client.force_login(make_user(is_staff=True, is_superuser=True))
        page = client.get("/admin/ratelimits/refusedattempt/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "203.0.113.99" in html and "target" in html
        assert '<td class="field-count">2</td>' in html  # attempts 4 and 5, in one row each

        client_row = RefusedAttempt.objects.get(ident="203.0.113.99")
        cleared = client.post(
            "/admin/ratelimits/refusedattempt/",
            {"action": "clear_limit", "_selected_action": [client_row.pk]},
        )
        assert cleared.status_code == 302
        # The client may try again (another account: "target" itself is still limited).
        assert attempt(servers[0], "203.0.113.99", "other").status_code == 400
        assert_refused(attempt(servers[1], "203.0.113.100", "target"), at_most=60)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_empty_limit_is_no_limit(redis_service, shared_cache, make_user):
    env = server_env(redis_service, AUTH_RATE_LIMIT="", WRITE_RATE_LIMIT="")
    with WebProcess(env, "web-unlimited") as web:
        answers = {attempt(web.url, "203.0.113.50", "victim").status_code for _ in range(15)}
        assert answers == {400}
        auth = token_header(make_user())
        new = {"title": "Bulk"}
        chat = requests.post(f"{web.url}/api/chats/", json=new, headers=auth, timeout=10)
        for n in range(70):  # more than the 60/min default
            sent = requests.post(
                f"{web.url}/api/chats/{chat.json()['id']}/messages/",
                json={"text": f"{n}"},
                headers=auth,
                timeout=10,
            )
            assert sent.status_code == 201


def test_a_malformed_limit_stops_the_start_naming_the_variable():
    check = manage_check(AUTH_RATE_LIMIT="ten a minute")
    assert check.returncode != 0
    assert "AUTH_RATE_LIMIT must look like 10/min" in check.stderr


@pytest.mark.django_db
def test_with_redis_down_logins_go_through_with_a_warning(settings, caplog, make_user):
    """Fail open: a Redis outage must not lock everybody out nor answer 500."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/1",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    settings.AUTH_RATE_LIMIT = "1/min"
    make_user("zoe")
    api = APIClient()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ratelimits.throttles"):
        for _ in range(3):
            body = {"username": "zoe", "password": "guess"}
            assert api.post("/api/auth/token/", body, format="json").status_code == 400
        body = {"username": "zoe", "password": "a-long-test-password"}
        assert api.post("/api/auth/token/", body, format="json").status_code == 200
    assert time.monotonic() - started < 5
    assert "the cache is down" in caplog.text


def test_the_schema_documents_429_on_throttled_operations(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert "429" in paths["/api/auth/token/"]["post"]["responses"]
    assert "429" in paths["/api/auth/register/"]["post"]["responses"]
    assert "429" in paths["/api/chats/{chat_id}/messages/"]["post"]["responses"]
    assert "429" in paths["/api/chats/{chat_id}/members/"]["post"]["responses"]
    assert "429" not in paths["/api/chats/{chat_id}/messages/"]["get"]["responses"]

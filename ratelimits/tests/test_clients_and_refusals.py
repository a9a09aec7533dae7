"""Who counts as one client (IPv6 per /64, X-Forwarded-For only behind trusted proxies), and what
a flood of refusals costs the database: the throttles run in this process, on Django's test
client, as a web process runs them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ratelimits import throttles
from ratelimits.models import RefusedAttempt


def login(api: APIClient, username: str = "nobody", **headers: str) -> int:
    """One wrong-password token attempt; its status."""
    body = {"username": username, "password": "guess"}
    return api.post("/api/auth/token/", body, format="json", **headers).status_code


@pytest.fixture
def two_attempts_a_minute(settings: object) -> None:
    settings.AUTH_RATE_LIMIT = "2/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}


@pytest.mark.django_db
@pytest.mark.usefixtures("two_attempts_a_minute")
class TestOneClient:
    def test_addresses_of_one_ipv6_64_share_a_count(self):
        for address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"):
            assert login(APIClient(REMOTE_ADDR=address), f"user-{address}") == 400
        refused = APIClient(REMOTE_ADDR="2001:db8:1:2:abcd::9")
        assert login(refused, "someone-new") == 429
        # The next /64 is another client.
        assert login(APIClient(REMOTE_ADDR="2001:db8:1:3::1"), "someone-else") == 400
        refusal = RefusedAttempt.objects.get(scope="auth-client")
        assert refusal.ident == "2001:db8:1:2::/64"

    def test_an_ipv4_mapped_address_is_its_ipv4_client(self):
        assert login(APIClient(REMOTE_ADDR="203.0.113.5"), "one") == 400
        assert login(APIClient(REMOTE_ADDR="::ffff:203.0.113.5"), "two") == 400
        assert login(APIClient(REMOTE_ADDR="::ffff:cb00:7105"), "three") == 429
        # IPv4 clients count per address, not per block.
        assert login(APIClient(REMOTE_ADDR="203.0.113.6"), "four") == 400
        assert RefusedAttempt.objects.get(scope="auth-client").ident == "203.0.113.5"

    def test_without_trusted_proxies_x_forwarded_for_is_ignored(self):
        """TRUSTED_PROXY_COUNT=0: a client that claims another address each time is still
        counted by the address it connects from."""
        api = APIClient(REMOTE_ADDR="198.51.100.7")
        for n in range(2):
            assert login(api, f"user{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}") == 400
        assert login(api, "user2", HTTP_X_FORWARDED_FOR="192.0.2.99") == 429
        assert RefusedAttempt.objects.get(scope="auth-client").ident == "198.51.100.7"

    def test_requests_without_an_address_count_as_one_unknown_client(self):
        """A Unix socket without a proxy header gives no address: limited together, and
        visible."""
        api = APIClient(REMOTE_ADDR="")
        assert login(api, "one") == 400
        assert login(api, "two") == 400
        refused = api.post("/api/auth/token/", {"username": "three", "password": "guess"})
        assert refused.status_code == 429 and int(refused["Retry-After"]) <= 60
        assert RefusedAttempt.objects.get().ident == "unknown"


def refusal_writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "ratelimits_refusedattempt" in q["sql"]
        and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_flood_of_refusals_writes_a_row_a_minute_and_the_admin_counts_all(
    shared_cache, settings, admin_client
):
    """60 refusals are one write (SQLite's write lock is taken once, not 60 times); the admin
    still sees all 60, and once the interval is over the next refusal writes them."""
    settings.AUTH_RATE_LIMIT = "1/min"
    now = datetime.now(UTC)
    if now.minute == 59 and now.second >= 50:  # one hour's row throughout
        time.sleep(61 - now.second)
    api = APIClient(REMOTE_ADDR="203.0.113.77")
    assert login(api, "flood0") == 400
    with CaptureQueriesContext(connection) as queries:
        answers = {login(api, f"flood{n}") for n in range(1, 61)}
    assert answers == {429}
    assert len(refusal_writes(queries)) <= 2  # one upsert: an UPDATE and an INSERT
    assert RefusedAttempt.objects.get(ident="203.0.113.77").count == 1  # the first, at once

    page = admin_client.get("/admin/ratelimits/refusedattempt/").content.decode()
    assert "203.0.113.77" in page
    assert '<td class="field-count">60</td>' in page

    # The minute is over: its marker expires (here: deleted).
    cache.delete(throttles.cache_key("auth-client", "203.0.113.77") + ":recorded")
    with CaptureQueriesContext(connection) as queries:
        assert login(api, "flood61") == 429
    assert len(refusal_writes(queries)) == 1  # the UPDATE, with all that was pending
    assert RefusedAttempt.objects.get(ident="203.0.113.77").count == 61
    page = admin_client.get("/admin/ratelimits/refusedattempt/").content.decode()
    assert '<td class="field-count">61</td>' in page

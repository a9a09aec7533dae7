"""What browsers see, end to end: a reader's chat page in headless Chromium, served by a real web
process (gunicorn, prometheus_client in multiprocess mode as under gunicorn -w N) that publishes
to a real Centrifugo; another member posts through the API. The page measures each message's
publish-to-arrival time and reports it: while messages arrive (a batch every ~10 s) and by
sendBeacon when it is left. Its reports reach the web process's /metrics histogram, with values
a same-host delivery makes plausible.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from rest_framework.authtoken.models import Token

from testing.browser import log_in, screenshot
from testing.people import PASSWORD
from testing.processes import django_env, wait_until
from testing.services import CentrifugoProcess, RedisProcess, WebProcess

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NAME = "chatplatform_live_browser_lag_seconds"


def histogram(web: WebProcess, token: str) -> dict[str, float]:
    """The lag histogram's _count and _sum as the web process's /metrics serves them."""
    text = requests.get(
        f"{web.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).text
    found = re.findall(rf"^{NAME}_(count|sum) (\S+)$", text, re.MULTILINE)
    return {kind: float(value) for kind, value in found}


def reports(web: WebProcess, token: str, at_least: int) -> dict[str, float]:
    """Wait until the histogram counts `at_least` values."""
    return wait_until(
        lambda: (seen := histogram(web, token)).get("count", 0) >= at_least and seen,
        timeout=30,
        what=f"{at_least} lag values on /metrics",
    )


def test_the_chat_pages_reports_reach_the_histogram(
    team: Any,
    browser: Any,
    redis_service: RedisProcess,
    centrifugo_service: CentrifugoProcess,
    tmp_path: Path,
) -> None:
    reader, writer, chat = team.member, team.owner, team.chat
    hasher = PBKDF2PasswordHasher()  # the server's hasher: make_user's MD5 is for this process
    get_user_model().objects.filter(pk=reader.pk).update(
        password=hasher.encode(PASSWORD, hasher.salt())
    )
    api = {"Authorization": f"Token {Token.objects.create(user=writer).key}"}
    metrics_token = secrets.token_urlsafe(32)
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = django_env(
        REDIS_URL=redis_service.url,
        CELERY_BROKER_URL=redis_service.url,
        CACHE_URL=redis_service.cache_url,
        METRICS_BEARER_TOKEN=metrics_token,
        PROMETHEUS_MULTIPROC_DIR=multiproc,
        LIVE_LAG_SAMPLE_RATE=1,
        **centrifugo_service.django_env,
    )
    with WebProcess(env) as web:
        # Nothing measured yet: the histogram is made at the first report.
        assert histogram(web, metrics_token).get("count", 0.0) == 0.0
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.on("console", lambda message: print(f"[browser] {message.text}"))
        page.set_default_timeout(20_000)
        log_in(page, web.url, reader, f"/chat/?chat={chat.pk}")
        page.wait_for_selector(f"body[data-subscribed-chat='{chat.pk}']")
        page.wait_for_selector("body[data-clock-offset]")  # same host: an offset of ~0 ms
        assert abs(int(page.get_attribute("body", "data-clock-offset"))) < 1000

        def post(text: str) -> None:
            url = f"{web.url}/api/chats/{chat.pk}/messages/"
            response = requests.post(url, json={"text": text}, headers=api, timeout=10)
            assert response.status_code == 201, response.text
            page.locator("#messages li", has_text=text).wait_for()

        # While messages arrive: one batch, ~10 s after the first value.
        for n in range(5):
            post(f"live message {n}")
        first = reports(web, metrics_token, 5)
        screenshot(page, "browser-lag-chat.png")
        # Leaving the page: what it measured since goes by sendBeacon, not lost with it.
        for n in range(3):
            post(f"last message {n}")
        page.goto("about:blank")
        seen = reports(web, metrics_token, 8)
        context.close()

    print(
        f"browser lag: {seen['count']:.0f} values, mean {seen['sum'] / seen['count'] * 1000:.1f} ms"
    )
    assert first["count"] == 5 and seen["count"] == 8  # each message once, none replayed
    # Publish to arrival on one host: milliseconds; "a few seconds" would be a broken clock.
    assert 0 <= seen["sum"] / seen["count"] < 2

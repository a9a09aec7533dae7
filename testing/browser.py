"""Fixtures that drive Debian's Chromium through Playwright: a page per user, logged in through
the login form, and screenshots in test-artifacts/ (what a person watching would see)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

from .people import PASSWORD

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, live_server):
    """A page in a fresh browser context (its own cookies), logged in through the login form
    (/admin/login/ for staff pages, /login/ otherwise)."""
    contexts = []

    def open_as(user, path: str, login: str = "/login/"):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: print(f"[browser {user.username}] {message.text}"))
        page.on("pageerror", lambda error: print(f"[browser {user.username}] error: {error}"))
        page.set_default_timeout(20_000)
        page.goto(f"{live_server.url}{login}?{urlencode({'next': path})}")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("[type=submit]")
        page.wait_for_url(f"{live_server.url}{path}")
        page.wait_for_selector("body[data-realtime=connected]")
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def page_config(response) -> dict:
    """The JSON a live page hands its script (`<script id="realtime-config">`)."""
    html = response.content.decode()
    start = html.index('id="realtime-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])

"""Fixtures that drive Debian's Chromium through Playwright: a page per user, logged in through
the login form, and screenshots in test-artifacts/ (what a person watching would see).

Chromium on Linux verifies certificates against the NSS database in $HOME/.pki/nssdb:
`trusting_home` makes a HOME whose database trusts a CA (what `mkcert -install` does for a
user), and `launch_chromium(home=...)` starts Chromium there, so a test proves a certificate
verifies instead of telling the browser to ignore certificate errors.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
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
CA_NICKNAME = "chatplatform-local-ca"


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    """Playwright's sync driver, one per module: every browser of the module launches from it
    (a second driver cannot start in the same thread)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright: Any, home: Path | None = None) -> Any:
    """Debian's Chromium (never a downloaded browser); `home`: its HOME, whose NSS database
    decides which certificate authorities it trusts (None: this process's HOME)."""
    env = None if home is None else {**os.environ, "HOME": str(home)}
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)


def trusting_home(home: Path, ca_file: Path | None = None) -> Path:
    """`home` with an NSS database (~/.pki/nssdb, where Chromium on Linux reads its trust
    settings) that trusts `ca_file` to issue server certificates; None: an empty database, a
    browser that trusts no local CA."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    certutil = ["certutil", "-d", f"sql:{nssdb}"]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True)
    if ca_file is not None:
        trust = ["-A", "-t", "C,,", "-n", CA_NICKNAME, "-i", str(ca_file)]
        subprocess.run([*certutil, *trust], check=True, capture_output=True)
    return home


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per module."""
    chromium = launch_chromium(playwright_driver)
    yield chromium
    chromium.close()


def log_in(page: Any, base_url: str, user: Any, path: str, login: str = "/login/") -> Any:
    """Log `user` in through the form at `login` (/admin/login/ or /login/) of the site at
    `base_url`, landing on `path`; returns the response of the login page."""
    response = page.goto(f"{base_url}{login}?{urlencode({'next': path})}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{base_url}{path}")
    return response


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
        log_in(page, live_server.url, user, path, login)
        page.wait_for_selector("body[data-realtime=connected]")
        return page

    yield open_as
    for context in contexts:
        context.close()


def signed_in_page(browser: Any, base: str, user: Any) -> tuple[Any, Any]:
    """(context, page): a fresh browser context signed in as `user` on the web process at
    `base`, the session made here in the database both share (no login request of its own:
    none spends a login attempt or shows in the traces); close the context when done."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda error: print(f"[browser] error: {error}"))
    return context, page


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def page_config(response) -> dict:
    """The JSON a live page hands its script (`<script id="realtime-config">`)."""
    html = response.content.decode()
    start = html.index('id="realtime-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])

"""The pages in a real headless Chromium against the live server, a real Centrifugo and a real
worker: what a person watching the screen would see. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

from chats import realtime, services
from integrations import centrifugo

from .live import live_worker  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_worker"),
]

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
PASSWORD = "a-long-test-password"  # what the make_user fixture sets


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


def test_chat_page_shows_a_message_sent_from_another_window(team, open_page):
    services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text="welcome, all")
    reader = open_page(team.member, f"/chat/?chat={team.chat.pk}")
    writer = open_page(team.admin, f"/chat/?chat={team.chat.pk}")
    for page in (reader, writer):
        page.wait_for_selector(f"body[data-subscribed-chat='{team.chat.pk}']")
        page.wait_for_selector("#messages li:has-text('welcome, all')")

    writer.fill("#message-text", "typed in the other window")
    writer.click("#send-button")
    line = reader.locator("#messages li", has_text="typed in the other window")
    line.wait_for()
    assert line.locator(".author").inner_text() == team.admin.username
    assert reader.locator("#messages li").count() == 2  # no duplicate from the live event

    # A message from an API client (not a browser) arrives too; a deleted one disappears.
    other = services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text="via API")
    reader.locator("#messages li", has_text="via API").wait_for()
    services.delete_message(chat_id=team.chat.pk, message_id=other.pk, actor_id=team.owner.pk)
    reader.locator("#messages li", has_text="via API").wait_for(state="detached")

    # A late, out-of-order "created" event (a re-queued publication) does not bring it back.
    stale = realtime.message_payload("message_created", other)  # `other` as it was before
    centrifugo.publish(centrifugo.chat_channel(team.chat.pk), stale)
    services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text="after the stale")
    reader.locator("#messages li", has_text="after the stale").wait_for()
    assert reader.locator("#messages li", has_text="via API").count() == 0
    screenshot(reader, "chat-page.png")


def counter(page, key: str):
    return page.locator(f"[data-key={key}]")


def wait_for_counter(page, key: str, expected: str) -> None:
    page.wait_for_function(
        "([key, expected]) => document.querySelector(`[data-key=${key}]`).textContent === expected",
        arg=[key, expected],
    )


def test_live_page_counters_move_as_messages_are_posted(team, open_page, make_user):
    from metrics import jobs, snapshot

    watcher = make_user("watcher", is_staff=True)
    for text in ("one", "two"):
        services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text=text)
    jobs.run_live_stats()  # what beat does every few seconds: the page's first numbers

    page = open_page(watcher, "/live/", login="/admin/login/")
    page.wait_for_selector("body[data-subscribed-stats=yes]")
    wait_for_counter(page, "messages_last_hour", "2")
    assert counter(page, "users").inner_text() == "5"  # the team's four and the watcher

    # Each new message reaches the page over the WebSocket before the next snapshot.
    for text in ("three", "four", "five"):
        services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text=text)
    wait_for_counter(page, "messages_last_hour", "5")

    # The next snapshot agrees, and brings what only it knows (a new user, who is online, and a
    # failed task; earlier tests in the session may have failed some within the hour).
    make_user("newcomer")
    failed = snapshot.tasks_failed_last_hour() + 1
    snapshot.record_task_failure()
    jobs.run_live_stats()
    wait_for_counter(page, "users", "6")
    assert counter(page, "messages_last_hour").inner_text() == "5"
    wait_for_counter(page, "online_users", "1")  # the watcher's own connection
    assert counter(page, "tasks_failed_last_hour").inner_text() == str(failed)
    screenshot(page, "live-page.png")

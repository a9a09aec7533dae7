"""The live statistics page in a real headless Chromium against the live server, a real
Centrifugo and a real worker: the counters a watching operator sees move.
"""

from __future__ import annotations

import pytest

from chats import services
from metrics import jobs, snapshot
from testing.browser import screenshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_worker"),
]


def counter(page, key: str):
    return page.locator(f"[data-key={key}]")


def wait_for_counter(page, key: str, expected: str) -> None:
    page.wait_for_function(
        "([key, expected]) => document.querySelector(`[data-key=${key}]`).textContent === expected",
        arg=[key, expected],
    )


def test_live_page_counters_move_as_messages_are_posted(team, open_page, make_user):
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

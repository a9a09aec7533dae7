"""The chat page in a real headless Chromium follows the chat list's pages: a user in more chats
than one page holds sees every one of them, and can open the last (`?chat=` names a chat that is
only on the last page). The page size is made small by its setting, as a long list would be."""

from __future__ import annotations

import pytest

from chats import services
from testing.browser import screenshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_service", "centrifugo_service"),
]


def test_a_user_in_more_chats_than_a_page_sees_them_all(make_user, open_page, settings):
    settings.API_PAGE_SIZE = 2  # the live server runs in this process: three pages below
    reader, other = make_user(), make_user()
    titles = [f"chat {n}" for n in range(5)]
    chats = [services.create_chat(title=title, creator_id=reader.pk) for title in titles]
    services.create_chat(title="someone else's", creator_id=other.pk)

    page = open_page(reader, f"/chat/?chat={chats[-1].pk}")
    page.locator("#chat-title", has_text=titles[-1]).wait_for()
    options = page.locator("#chat-select option")
    assert options.all_inner_texts() == titles
    assert page.locator("#chat-select").input_value() == str(chats[-1].pk)
    assert page.locator("#no-chats").is_hidden()
    page.wait_for_selector(f"body[data-subscribed-chat='{chats[-1].pk}']")
    screenshot(page, "chat-page-many-chats.png")

"""The pages in a real headless Chromium against the live server, a real Centrifugo and a real
worker: what a person watching the screen would see. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest

from chats import services
from chats.live import recording as realtime
from integrations import centrifugo
from testing.browser import screenshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_worker"),
]


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

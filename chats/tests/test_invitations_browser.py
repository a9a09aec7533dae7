"""The chat page in a real headless Chromium shows the user's invitations, a hostile chat title
as plain text, and accepting one opens the chat live."""

from __future__ import annotations

import pytest

from accounts.models import AddPolicy
from chats import services
from chats.models import Invitation, Membership
from testing.browser import screenshot
from testing.hostile import ACCEPTED

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("redis_service", "centrifugo_service"),
]


def test_accepting_an_invitation_on_the_chat_page_opens_the_chat(make_user, open_page):
    owner = make_user("olga")
    title = ACCEPTED["html_img"]
    chat = services.create_chat(title=title, creator_id=owner.pk)
    other = services.create_chat(title="Declined one", creator_id=owner.pk)
    sam = make_user("sam", who_can_add=AddPolicy.CONTACTS)
    for each in (chat, other):
        assert services.add_or_invite(chat_id=each.pk, actor_id=owner.pk, user_id=sam.pk) is None
    dialogs: list[str] = []

    page = open_page(sam, "/chat/")
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    items = page.locator("#invitation-list li")
    items.first.wait_for()
    assert items.all_inner_texts()[0].startswith(f"olga invited you to “{title}” as member")
    assert page.locator("#invitation-list img").count() == 0  # the title is text, not HTML
    screenshot(page, "chat-page-invitations.png")

    items.nth(1).get_by_role("button", name="Decline").click()
    items.first.get_by_role("button", name="Accept").click()
    page.locator("#chat-title", has_text=title).wait_for()
    page.wait_for_selector(f"body[data-subscribed-chat='{chat.pk}']")

    assert page.locator("#invitations").is_hidden()
    assert Membership.objects.filter(chat=chat, user=sam).exists()
    assert list(Invitation.objects.order_by("id").values_list("status", flat=True)) == [
        "accepted",
        "declined",
    ]
    assert dialogs == []

"""The Django admin pages for chats, members and messages open for staff (no 500s)."""

from __future__ import annotations

import pytest
from django.test import Client

from chats import services


@pytest.fixture
def staff_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "page",
    [
        "chat/",
        "chat/add/",
        "chat/{chat}/change/",
        "membership/",
        "membership/?role__exact=owner",
        "message/",
        "message/?q=hello",
        "membershipevent/",
        "notification/",
        "publication/",
    ],
)
def test_admin_pages_open_for_staff(team, staff_client, page):
    services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="hello")
    response = staff_client.get("/admin/chats/" + page.format(chat=team.chat.pk))
    assert response.status_code == 200


def test_admin_shows_the_chats_members_inline(team, staff_client):
    response = staff_client.get(f"/admin/chats/chat/{team.chat.pk}/change/")
    assert response.content.count(b'name="memberships-') > 0
    assert b"owner" in response.content

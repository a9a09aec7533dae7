"""The Django admin pages for chats, members and messages open for staff (no 500s)."""

from __future__ import annotations

import pytest
from django.test import Client

from chats import services
from chats.models import Membership, Role

from .support import events


@pytest.fixture
def staff_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("staff", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "page",
    [
        "chat/",
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


def test_admin_cannot_create_a_chat_without_an_owner(staff_client):
    assert staff_client.get("/admin/chats/chat/add/").status_code == 403


def test_admin_shows_the_chats_members_inline(team, staff_client):
    response = staff_client.get(f"/admin/chats/chat/{team.chat.pk}/change/")
    assert response.content.count(b'name="memberships-') > 0
    assert b"owner" in response.content


def test_memberships_are_read_only_in_the_admin(team, staff_client):
    """Membership changes go through the services (join/leave events, admin emails, the end of a
    removed member's live subscription); the admin shows the rows and changes none of them."""
    member = Membership.objects.get(chat=team.chat, user=team.member)
    page = f"/admin/chats/membership/{member.pk}/"
    shown = staff_client.get(page + "change/")
    assert shown.status_code == 200  # the view page: fields as text, no form to save
    assert b'name="_save"' not in shown.content
    assert b'name="role"' not in shown.content
    assert staff_client.get("/admin/chats/membership/add/").status_code == 403
    assert staff_client.get(page + "delete/").status_code == 403
    posted = staff_client.post(
        page + "change/",
        {
            "chat": team.chat.pk,
            "user": team.member.pk,
            "role": "admin",
            "joined_at_0": "2026-01-01",
            "joined_at_1": "00:00:00",
        },
    )
    assert posted.status_code == 403
    assert Membership.objects.get(pk=member.pk).role == Role.MEMBER
    bulk = staff_client.post(
        "/admin/chats/membership/", {"action": "delete_selected", "_selected_action": [member.pk]}
    )
    assert bulk.status_code in (200, 302)
    assert Membership.objects.filter(pk=member.pk).exists()
    listing = staff_client.get("/admin/chats/membership/")
    assert b"/admin/chats/membership/add/" not in listing.content
    assert events(team.chat.pk)[-1] == (team.member.pk, "join")  # nothing was logged meanwhile


def test_a_chat_cannot_be_deleted_in_the_admin(team, staff_client):
    """It would drop the memberships silently; the owner deletes it through the API."""
    assert staff_client.get(f"/admin/chats/chat/{team.chat.pk}/delete/").status_code == 403
    assert Membership.objects.filter(chat=team.chat).count() == 3


def test_an_account_in_chats_can_be_deleted_in_the_admin(team, staff_client):
    """Its memberships go through services.forget_user: the owner's chat passes on, leaves are
    logged; the read-only Membership pages do not block the account's deletion."""
    page = f"/admin/auth/user/{team.owner.pk}/delete/"
    assert staff_client.get(page).status_code == 200
    assert staff_client.post(page, {"post": "yes"}).status_code == 302
    assert not Membership.objects.filter(user_id=team.owner.pk).exists()
    assert Membership.objects.get(chat=team.chat, user=team.admin).role == Role.OWNER
    assert (team.owner.pk, "leave") in events(team.chat.pk)

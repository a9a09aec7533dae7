"""The Django admin pages for chats, members and messages open for staff (no 500s)."""

from __future__ import annotations

import pytest
from django.test import Client

from chats import services
from chats.models import Membership, Role


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


def test_the_owner_membership_cannot_be_demoted_or_deleted_in_the_admin(team, staff_client):
    owner = Membership.objects.get(chat=team.chat, role=Role.OWNER)
    page = f"/admin/chats/membership/{owner.pk}/"
    assert staff_client.get(page + "delete/").status_code == 403
    staff_client.post(page + "change/", {"role": "member", "email_notifications": "on"})
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    member = Membership.objects.get(chat=team.chat, user=team.member)
    assert staff_client.get(f"/admin/chats/membership/{member.pk}/delete/").status_code == 200


def test_a_second_owner_is_a_form_error_in_the_admin(team, staff_client):
    admin = Membership.objects.get(chat=team.chat, user=team.admin)
    response = staff_client.post(
        f"/admin/chats/membership/{admin.pk}/change/",
        {
            "chat": team.chat.pk,
            "user": team.admin.pk,
            "role": "owner",
            "joined_at_0": "2026-01-01",
            "joined_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200  # the form again, with the error; not a 500
    assert "one_owner_per_chat" in response.content.decode()
    assert Membership.objects.get(pk=admin.pk).role == Role.ADMIN

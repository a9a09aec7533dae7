"""The chats API: chats and their members, through DRF's APIClient
with real token authentication.

Bad input must be a 4xx whose JSON body names the field that was wrong, never a 500, and must
leave no row behind.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from chats import services
from chats.models import Chat, Membership, MembershipEvent, Notification, Role

from .support import assert_names, url

User = get_user_model()


# --- chats --------------------------------------------------------------------------------------


def test_create_chat_makes_the_caller_owner_and_lists_it(make_user, client_for):
    zoe = make_user()
    client = client_for(zoe)
    response = client.post("/api/chats/", {"title": "  Plans "}, format="json")
    assert response.status_code == 201
    chat = response.json()
    assert (chat["title"], chat["created_by"]) == ("Plans", zoe.pk)
    assert Membership.objects.get(chat_id=chat["id"]).role == Role.OWNER
    assert [c["id"] for c in client.get("/api/chats/").json()["results"]] == [chat["id"]]


@pytest.mark.parametrize("payload", [{}, {"title": ""}, {"title": "   "}, {"title": "t" * 201}])
def test_create_chat_refuses_a_bad_title_naming_it(make_user, client_for, payload):
    assert_names(client_for(make_user()).post("/api/chats/", payload, format="json"), "title", 400)
    assert not Chat.objects.exists()


def test_chat_list_shows_only_the_callers_chats(team, client_for):
    services.create_chat(title="Elsewhere", creator_id=team.outsider.pk)
    listed = client_for(team.member).get("/api/chats/").json()["results"]
    assert [c["title"] for c in listed] == ["Team"]


def test_get_chat_for_members_only(team, client_for):
    assert client_for(team.member).get(url(team.chat.pk)).json()["title"] == "Team"
    assert_names(client_for(team.outsider).get(url(team.chat.pk)), "chat_id", 404)


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_owner_and_admin_patch_the_chat(team, client_for, actor):
    response = client_for(getattr(team, actor)).patch(
        url(team.chat.pk), {"title": "Renamed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"
    assert Chat.objects.get(pk=team.chat.pk).title == "Renamed"


def test_an_empty_patch_changes_nothing(team, client_for):
    response = client_for(team.owner).patch(url(team.chat.pk), {}, format="json")
    assert (response.status_code, response.json()["title"]) == (200, "Team")


@pytest.mark.parametrize(("actor", "status"), [("member", 403), ("outsider", 404)])
def test_others_cannot_patch_or_delete_the_chat(team, client_for, actor, status):
    client = client_for(getattr(team, actor))
    assert_names(
        client.patch(url(team.chat.pk), {"title": "Mine"}, format="json"), "chat_id", status
    )
    assert_names(client.delete(url(team.chat.pk)), "chat_id", status)
    assert Chat.objects.get(pk=team.chat.pk).title == "Team"


def test_patch_chat_refuses_a_blank_title(team, client_for):
    response = client_for(team.owner).patch(url(team.chat.pk), {"title": ""}, format="json")
    assert_names(response, "title", 400)


def test_only_the_owner_deletes_the_chat(team, client_for):
    assert_names(client_for(team.admin).delete(url(team.chat.pk)), "chat_id", 403)
    assert client_for(team.owner).delete(url(team.chat.pk)).status_code == 204
    assert not Chat.objects.filter(pk=team.chat.pk).exists()
    assert_names(client_for(team.owner).get(url(team.chat.pk)), "chat_id", 404)


@pytest.mark.parametrize("chat_id", ["9" * 18, "9" * 19, "99999999999999999999999999"])
def test_a_huge_chat_id_is_404_not_a_database_overflow(team, client_for, chat_id):
    response = client_for(team.owner).get(f"/api/chats/{chat_id}/messages/")
    assert response.status_code == 404


# --- members ------------------------------------------------------------------------------------


def test_members_are_listed_for_members_only(team, client_for):
    body = client_for(team.member).get(url(team.chat.pk, "members")).json()["results"]
    assert [(m["username"], m["role"]) for m in body] == [
        ("owner", "owner"),
        ("admin", "admin"),
        ("member", "member"),
    ]
    assert_names(client_for(team.outsider).get(url(team.chat.pk, "members")), "chat_id", 404)


@pytest.mark.parametrize(("actor", "role"), [("owner", "admin"), ("admin", "member")])
def test_owner_and_admin_add_members(team, client_for, make_user, actor, role):
    newcomer = make_user()
    response = client_for(getattr(team, actor)).post(
        url(team.chat.pk, "members"), {"user_id": newcomer.pk, "role": role}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["user_id"], response.json()["role"]) == (newcomer.pk, role)
    assert Membership.objects.get(chat=team.chat, user=newcomer).role == role


def test_added_member_defaults_to_the_member_role(team, client_for, make_user):
    newcomer = make_user()
    response = client_for(team.owner).post(
        url(team.chat.pk, "members"), {"user_id": newcomer.pk}, format="json"
    )
    assert (response.status_code, response.json()["role"]) == (201, "member")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "member"}, "user_id"),
        ({"user_id": "abc"}, "user_id"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": 2**64}, "user_id"),
        # An unknown id is not refused: it gets an invitation's 202, so the answer does not tell
        # which ids are accounts (test_consent_api).
        ({"user_id": "NEWCOMER", "role": "owner"}, "role"),
        ({"user_id": "NEWCOMER", "role": "king"}, "role"),
    ],
)
def test_add_member_refuses_bad_input_naming_the_field(team, client_for, make_user, payload, field):
    newcomer = make_user()
    payload = {k: newcomer.pk if v == "NEWCOMER" else v for k, v in payload.items()}
    events_before = MembershipEvent.objects.count()
    response = client_for(team.owner).post(url(team.chat.pk, "members"), payload, format="json")
    assert_names(response, field, 400)
    assert MembershipEvent.objects.count() == events_before
    assert not Membership.objects.filter(user=newcomer).exists()


def test_adding_an_existing_member_is_409_naming_user_id(team, client_for):
    notes_before = Notification.objects.count()
    response = client_for(team.owner).post(
        url(team.chat.pk, "members"), {"user_id": team.member.pk}, format="json"
    )
    assert_names(response, "user_id", 409)
    assert Notification.objects.count() == notes_before


@pytest.mark.parametrize(("actor", "status"), [("member", 403), ("outsider", 404)])
def test_others_cannot_add_members(team, client_for, make_user, actor, status):
    newcomer = make_user()
    response = client_for(getattr(team, actor)).post(
        url(team.chat.pk, "members"), {"user_id": newcomer.pk}, format="json"
    )
    assert_names(response, "chat_id", status)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_adding_a_member_with_long_names_is_not_a_500(client_for, make_user):
    """A 200-char title and a 150-char username make a long email subject; it must fit."""
    owner, admin, newcomer = make_user(), make_user(), make_user("n" * 150)
    chat = services.create_chat(title="t" * 200, creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    response = client_for(owner).post(url(chat.pk, "members"), {"user_id": newcomer.pk})
    assert response.status_code == 201
    assert Notification.objects.get(event="member_added", recipient_id=admin.pk).subject.startswith(
        "[" + "t" * 200 + "] " + "n" * 150
    )


def test_the_owner_removes_a_member(team, client_for):
    response = client_for(team.owner).delete(url(team.chat.pk, "members", team.member.pk))
    assert response.status_code == 204
    assert not Membership.objects.filter(chat=team.chat, user=team.member).exists()


def test_a_member_leaves(team, client_for):
    assert (
        client_for(team.member).delete(url(team.chat.pk, "members", team.member.pk)).status_code
        == 204
    )
    assert_names(client_for(team.member).get(url(team.chat.pk)), "chat_id", 404)


def test_remove_member_refusals_name_the_field(team, client_for):
    members = url(team.chat.pk, "members")
    assert_names(client_for(team.admin).delete(f"{members}{team.owner.pk}/"), "user_id", 409)
    assert_names(client_for(team.owner).delete(f"{members}{team.owner.pk}/"), "user_id", 409)
    assert_names(client_for(team.member).delete(f"{members}{team.admin.pk}/"), "chat_id", 403)
    assert_names(client_for(team.outsider).delete(f"{members}{team.member.pk}/"), "chat_id", 404)
    assert_names(client_for(team.owner).delete(f"{members}{team.outsider.pk}/"), "user_id", 404)
    assert Membership.objects.filter(chat=team.chat).count() == 3


def test_an_admin_turns_their_membership_emails_off_and_on(team, client_for):
    me = url(team.chat.pk, "members", team.admin.pk)
    client = client_for(team.admin)
    response = client.patch(me, {"email_notifications": False}, format="json")
    assert (response.status_code, response.json()["email_notifications"]) == (200, False)
    assert not Membership.objects.get(chat=team.chat, user=team.admin).email_notifications
    assert client.patch(me, {"email_notifications": True}, format="json").json()[
        "email_notifications"
    ]
    assert Membership.objects.get(chat=team.chat, user=team.admin).email_notifications


def test_email_settings_refusals_name_the_field(team, client_for):
    members = url(team.chat.pk, "members")
    off = {"email_notifications": False}
    admin = client_for(team.admin)
    assert_names(admin.patch(f"{members}{team.owner.pk}/", off, format="json"), "user_id", 403)
    assert_names(
        admin.patch(f"{members}{team.admin.pk}/", {"email_notifications": "maybe"}, format="json"),
        "email_notifications",
        400,
    )
    member = client_for(team.member)
    assert_names(member.patch(f"{members}{team.member.pk}/", off, format="json"), "chat_id", 403)
    assert Membership.objects.filter(chat=team.chat, email_notifications=False).count() == 0

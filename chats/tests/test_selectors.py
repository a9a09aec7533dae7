"""Selectors: who sees which chats, who is told, and which messages a reader gets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chats import selectors, services
from chats.emails import preferences
from chats.models import Message, Role
from core.errors import DomainError, Forbidden, NotFound


def test_chats_for_user_lists_only_the_users_chats(team, make_user):
    own = services.create_chat(title="Mine", creator_id=team.member.pk)
    services.create_chat(title="Not mine", creator_id=team.outsider.pk)
    assert list(selectors.chats_for_user(team.member.pk)) == [team.chat, own]
    assert list(selectors.chats_for_user(make_user().pk)) == []


def test_chat_for_member_hides_the_chat_from_outsiders(team):
    assert selectors.chat_for_member(team.chat.pk, team.member.pk) == team.chat
    for user_id, chat_id in [(team.outsider.pk, team.chat.pk), (team.member.pk, 999_999)]:
        with pytest.raises(NotFound) as caught:
            selectors.chat_for_member(chat_id, user_id)
        assert caught.value.field == "chat_id"


def test_require_admin_accepts_owner_and_admin_only(team):
    assert selectors.require_admin(team.chat.pk, team.owner.pk).role == Role.OWNER
    assert selectors.require_admin(team.chat.pk, team.admin.pk).role == Role.ADMIN
    with pytest.raises(Forbidden):
        selectors.require_admin(team.chat.pk, team.member.pk)
    with pytest.raises(NotFound):
        selectors.require_admin(team.chat.pk, team.outsider.pk)


def test_members_of_lists_members_in_joining_order(team):
    members = selectors.members_of(team.chat.pk)
    assert [(m.user.username, m.role) for m in members] == [
        ("owner", Role.OWNER),
        ("admin", Role.ADMIN),
        ("member", Role.MEMBER),
    ]


def test_admins_to_notify_skips_the_actor_members_opted_out_and_emailless(team, make_user):
    assert [m.user_id for m in selectors.admins_to_notify(team.chat.pk, team.owner.pk)] == [
        team.admin.pk
    ]
    assert [m.user_id for m in selectors.admins_to_notify(team.chat.pk, None)] == [
        team.owner.pk,
        team.admin.pk,
    ]
    preferences.set_email_notifications(chat_id=team.chat.pk, user_id=team.admin.pk, enabled=False)
    no_email = make_user(email="")
    services.add_member(
        chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=no_email.pk, role=Role.ADMIN
    )
    assert [m.user_id for m in selectors.admins_to_notify(team.chat.pk, None)] == [team.owner.pk]


def test_messages_of_is_newest_first_and_skips_deleted_ones(team):
    now = timezone.now()
    older = Message.objects.create(
        chat=team.chat, author=team.member, text="older", created_at=now - timedelta(minutes=1)
    )
    # Two messages in the same instant are ordered by id, so a page boundary is stable.
    same_a = Message.objects.create(chat=team.chat, author=team.member, text="a", created_at=now)
    same_b = Message.objects.create(chat=team.chat, author=team.member, text="b", created_at=now)
    Message.objects.create(
        chat=team.chat, author=team.member, text="deleted", created_at=now, deleted_at=now
    )
    other = services.create_chat(title="Other", creator_id=team.member.pk)
    services.post_message(chat_id=other.pk, author_id=team.member.pk, text="elsewhere")
    assert list(selectors.messages_of(team.chat.pk)) == [same_b, same_a, older]


def test_get_user_names_the_field_for_unknown_or_inactive_users(make_user):
    active = make_user()
    assert selectors.get_user(active.pk) == active
    inactive = make_user(is_active=False)
    for user_id in (inactive.pk, 999_999):
        with pytest.raises(DomainError) as caught:
            selectors.get_user(user_id)
        assert caught.value.field == "user_id"

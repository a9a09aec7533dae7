"""Services: the rules of users, chats and members, and that a failure writes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from chats import selectors, services
from chats.emails import preferences
from chats.models import Chat, Membership, MembershipEvent, Notification, Role
from core.errors import Conflict, DomainError, Forbidden, NotFound

from .support import events

User = get_user_model()


# --- users --------------------------------------------------------------------------------------


def test_register_user_refuses_a_taken_username_in_any_case(make_user):
    make_user("alice")
    with pytest.raises(Conflict) as caught:
        services.register_user(username="ALICE", email="a@example.com", password="x-long-pass-1")
    assert caught.value.field == "username"
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_register_user_stores_a_hashed_password(db):
    user = services.register_user(username="bob", email="b@example.com", password="x-long-pass-1")
    assert user.check_password("x-long-pass-1")
    assert user.password != "x-long-pass-1"


# --- chats --------------------------------------------------------------------------------------


def test_create_chat_makes_the_creator_its_owner(make_user):
    alice = make_user()
    chat = services.create_chat(title="Plans", creator_id=alice.pk)
    membership = Membership.objects.get(chat=chat)
    assert (membership.user_id, membership.role) == (alice.pk, Role.OWNER)
    assert chat.created_by_id == alice.pk
    assert events(chat.pk) == [(alice.pk, "join")]


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_owner_and_admin_rename_the_chat(team, actor):
    chat = services.update_chat(
        chat_id=team.chat.pk, actor_id=getattr(team, actor).pk, title="Renamed"
    )
    assert Chat.objects.get(pk=chat.pk).title == "Renamed"


def test_update_chat_without_a_title_changes_nothing(team):
    chat = services.update_chat(chat_id=team.chat.pk, actor_id=team.admin.pk, title=None)
    assert chat.title == "Team"


@pytest.mark.parametrize(("actor", "error"), [("member", Forbidden), ("outsider", NotFound)])
def test_others_cannot_rename_the_chat(team, actor, error):
    with pytest.raises(error) as caught:
        services.update_chat(chat_id=team.chat.pk, actor_id=getattr(team, actor).pk, title="X")
    assert caught.value.field == "chat_id"
    assert Chat.objects.get(pk=team.chat.pk).title == "Team"


def test_only_the_owner_deletes_the_chat(team):
    for actor, error in [
        (team.admin, Forbidden),
        (team.member, Forbidden),
        (team.outsider, NotFound),
    ]:
        with pytest.raises(error):
            services.delete_chat(chat_id=team.chat.pk, actor_id=actor.pk)
    assert Chat.objects.filter(pk=team.chat.pk).exists()


def test_deleting_a_chat_logs_every_leave_and_emails_the_other_admins(team):
    chat_id = team.chat.pk
    services.delete_chat(chat_id=chat_id, actor_id=team.owner.pk)
    assert not Chat.objects.filter(pk=chat_id).exists()
    assert not Membership.objects.filter(chat_id=chat_id).exists()
    leaves = {uid for uid, kind in events(chat_id) if kind == "leave"}
    assert leaves == {team.owner.pk, team.admin.pk, team.member.pk}
    sent = Notification.objects.filter(chat_id=chat_id, event="chat_deleted")
    assert [n.recipient_email for n in sent] == [team.admin.email]


# --- members ------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_owner_and_admin_add_members(team, make_user, actor):
    newcomer = make_user()
    membership = services.add_member(
        chat_id=team.chat.pk, actor_id=getattr(team, actor).pk, user_id=newcomer.pk
    )
    assert (membership.user_id, membership.role) == (newcomer.pk, Role.MEMBER)
    assert events(team.chat.pk)[-1] == (newcomer.pk, "join")


def test_adding_a_member_emails_every_other_admin_after_commit(
    team, make_user, django_capture_on_commit_callbacks
):
    newcomer = make_user("newcomer")
    before = Notification.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        services.add_member(chat_id=team.chat.pk, actor_id=team.admin.pk, user_id=newcomer.pk)
    notes = list(
        Notification.objects.filter(chat_id=team.chat.pk, event="member_added").order_by("id")
    )[-1:]
    # The owner is told; the admin who added the user is not; plain members never are.
    assert [n.recipient_id for n in notes] == [team.owner.pk]
    assert Notification.objects.count() == before + 1
    assert "newcomer" in notes[0].subject
    # Delivery is queued once the transaction commits, not before.
    assert len(callbacks) == 1


def test_a_change_rolled_back_after_the_service_queues_and_keeps_no_email(
    team, make_user, django_capture_on_commit_callbacks
):
    """A request that fails after `add_member` rolls its emails back with it: the rows go, and
    the delivery registered for "after commit" is dropped instead of run."""
    newcomer = make_user("ghost")
    before = Notification.objects.count()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.add_member(chat_id=team.chat.pk, actor_id=team.admin.pk, user_id=newcomer.pk)
        assert Notification.objects.count() == before + 1  # the owner's email, recorded
        raise RuntimeError("something later in the request failed")
    assert callbacks == []
    assert Notification.objects.count() == before
    assert not Notification.objects.filter(body_text__contains="ghost").exists()
    assert selectors.get_membership(team.chat.pk, newcomer.pk) is None


@pytest.mark.parametrize(("actor", "error"), [("member", Forbidden), ("outsider", NotFound)])
def test_others_cannot_add_members(team, make_user, actor, error):
    newcomer = make_user()
    with pytest.raises(error):
        services.add_member(
            chat_id=team.chat.pk, actor_id=getattr(team, actor).pk, user_id=newcomer.pk
        )
    assert selectors.get_membership(team.chat.pk, newcomer.pk) is None


def test_adding_a_member_twice_is_a_conflict_naming_user_id_and_writes_nothing(team):
    before = (MembershipEvent.objects.count(), Notification.objects.count())
    with pytest.raises(Conflict) as caught:
        services.add_member(chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=team.member.pk)
    assert caught.value.field == "user_id"
    assert (MembershipEvent.objects.count(), Notification.objects.count()) == before
    assert Membership.objects.filter(chat=team.chat, user=team.member).count() == 1


def test_adding_an_unknown_user_names_user_id_and_writes_nothing(team):
    before = (
        Membership.objects.count(),
        MembershipEvent.objects.count(),
        Notification.objects.count(),
    )
    with pytest.raises(DomainError) as caught:
        services.add_member(chat_id=team.chat.pk, actor_id=team.admin.pk, user_id=424242)
    assert caught.value.field == "user_id"
    after = (
        Membership.objects.count(),
        MembershipEvent.objects.count(),
        Notification.objects.count(),
    )
    assert after == before


def test_adding_an_inactive_user_is_refused(team, make_user):
    ghost = make_user(is_active=False)
    with pytest.raises(DomainError):
        services.add_member(chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=ghost.pk)


def test_nobody_is_added_as_a_second_owner(team, make_user):
    newcomer = make_user()
    with pytest.raises(DomainError) as caught:
        services.add_member(
            chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=newcomer.pk, role=Role.OWNER
        )
    assert caught.value.field == "role"


def test_the_database_allows_one_owner_per_chat(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(chat=team.chat, user=team.admin).update(role=Role.OWNER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            chat=Chat.objects.create(title="T"), user=team.admin, role="owner"
        )
        Membership.objects.create(chat=Chat.objects.last(), user=team.member, role="owner")


def test_the_database_allows_one_membership_per_user_and_chat(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(chat=team.chat, user=team.member, role=Role.ADMIN)


def test_the_database_refuses_an_unknown_role(team):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(chat=team.chat, user=team.member).update(role="king")


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_owner_and_admin_remove_a_member(team, actor):
    services.remove_member(
        chat_id=team.chat.pk, actor_id=getattr(team, actor).pk, user_id=team.member.pk
    )
    assert selectors.get_membership(team.chat.pk, team.member.pk) is None
    assert events(team.chat.pk)[-1] == (team.member.pk, "leave")


def test_a_member_may_leave_and_the_admins_are_told(team):
    services.remove_member(chat_id=team.chat.pk, actor_id=team.member.pk, user_id=team.member.pk)
    assert selectors.get_membership(team.chat.pk, team.member.pk) is None
    told = Notification.objects.filter(chat_id=team.chat.pk, event="member_removed")
    assert sorted(n.recipient_id for n in told) == sorted([team.owner.pk, team.admin.pk])


def test_a_member_cannot_remove_someone_else(team):
    with pytest.raises(Forbidden):
        services.remove_member(chat_id=team.chat.pk, actor_id=team.member.pk, user_id=team.admin.pk)
    assert selectors.get_membership(team.chat.pk, team.admin.pk) is not None


@pytest.mark.parametrize("actor", ["owner", "admin"])
def test_the_owner_cannot_be_removed_nor_leave(team, actor):
    before = MembershipEvent.objects.count()
    with pytest.raises(Conflict) as caught:
        services.remove_member(
            chat_id=team.chat.pk, actor_id=getattr(team, actor).pk, user_id=team.owner.pk
        )
    assert caught.value.field == "user_id"
    assert selectors.get_membership(team.chat.pk, team.owner.pk).role == Role.OWNER
    assert MembershipEvent.objects.count() == before


def test_removing_a_non_member_is_not_found_naming_user_id(team):
    with pytest.raises(NotFound) as caught:
        services.remove_member(
            chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=team.outsider.pk
        )
    assert caught.value.field == "user_id"


def test_admins_switch_their_membership_emails(team):
    preferences.set_email_notifications(chat_id=team.chat.pk, user_id=team.admin.pk, enabled=False)
    assert selectors.get_membership(team.chat.pk, team.admin.pk).email_notifications is False
    with pytest.raises(Forbidden):
        preferences.set_email_notifications(
            chat_id=team.chat.pk, user_id=team.member.pk, enabled=False
        )

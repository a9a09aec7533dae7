"""Services: the rules of chats, members and messages, and that a failure writes nothing."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

import testing
from chats import selectors, services
from chats.models import Chat, Membership, MembershipEvent, Message, Notification, Publication, Role
from core.errors import Conflict, DomainError, Forbidden, NotFound

User = get_user_model()


def events(chat_id: int) -> list[tuple[int, str]]:
    return list(
        MembershipEvent.objects.filter(chat_id=chat_id)
        .order_by("id")
        .values_list("user_id", "kind")
    )


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
    services.set_email_notifications(chat_id=team.chat.pk, user_id=team.admin.pk, enabled=False)
    assert selectors.get_membership(team.chat.pk, team.admin.pk).email_notifications is False
    with pytest.raises(Forbidden):
        services.set_email_notifications(
            chat_id=team.chat.pk, user_id=team.member.pk, enabled=False
        )


# --- messages -----------------------------------------------------------------------------------


def test_a_member_posts_a_trimmed_message_with_a_live_event(team):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="  hi  ")
    assert Message.objects.get(pk=message.pk).text == "hi"
    publication = Publication.objects.get(channel=f"chat:{team.chat.pk}")
    assert publication.data["type"] == "message_created"
    assert publication.data["message"]["id"] == message.pk
    # ...and a text-free tick for the live statistics page.
    activity = Publication.objects.get(channel="stats:live")
    assert activity.data == {
        "type": "message_activity",
        "chat_id": team.chat.pk,
        "created_at": message.created_at.isoformat(),
    }


@pytest.mark.parametrize("text", ["", "   \n\t ", None])
def test_an_empty_message_is_refused_naming_text(team, text):
    with pytest.raises(DomainError) as caught:
        services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text=text)
    assert caught.value.field == "text"
    assert not Message.objects.exists()


def test_a_message_over_the_limit_is_refused_naming_text(team, settings):
    settings.MESSAGE_MAX_LENGTH = 10
    services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="x" * 10)
    with pytest.raises(DomainError) as caught:
        services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="x" * 11)
    assert caught.value.field == "text"
    assert Message.objects.count() == 1


def test_a_non_member_cannot_post_and_nothing_is_written(team):
    with pytest.raises(Forbidden):
        services.post_message(chat_id=team.chat.pk, author_id=team.outsider.pk, text="hello")
    assert not Message.objects.exists()
    assert not Publication.objects.exists()


def test_the_author_edits_a_message(team):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="helo")
    edited = services.edit_message(
        chat_id=team.chat.pk, message_id=message.pk, actor_id=team.member.pk, text="hello"
    )
    assert (edited.text, edited.edited_at is not None) == ("hello", True)
    assert Publication.objects.order_by("id").last().data["type"] == "message_edited"


def test_only_the_author_edits_or_deletes_a_message(team):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="mine")
    with pytest.raises(Forbidden) as caught:
        services.edit_message(
            chat_id=team.chat.pk, message_id=message.pk, actor_id=team.owner.pk, text="theirs"
        )
    assert caught.value.field == "message_id"
    with pytest.raises(Forbidden):
        services.delete_message(chat_id=team.chat.pk, message_id=message.pk, actor_id=team.owner.pk)
    with pytest.raises(NotFound):
        services.delete_message(
            chat_id=team.chat.pk, message_id=message.pk, actor_id=team.outsider.pk
        )
    message.refresh_from_db()
    assert (message.text, message.deleted_at) == ("mine", None)


def test_editing_with_an_empty_text_is_refused(team):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="mine")
    with pytest.raises(DomainError) as caught:
        services.edit_message(
            chat_id=team.chat.pk, message_id=message.pk, actor_id=team.member.pk, text=" "
        )
    assert caught.value.field == "text"
    assert Message.objects.get(pk=message.pk).text == "mine"


def test_a_deleted_message_is_hidden_and_can_no_longer_be_changed(team):
    kept = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="kept")
    gone = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="gone")
    services.delete_message(chat_id=team.chat.pk, message_id=gone.pk, actor_id=team.member.pk)
    assert list(selectors.messages_of(team.chat.pk)) == [kept]
    assert Message.objects.get(pk=gone.pk).deleted_at is not None  # kept for the statistics
    deleted_event = Publication.objects.order_by("id").last().data
    assert (deleted_event["type"], deleted_event["message"]["text"]) == ("message_deleted", "")
    with pytest.raises(NotFound) as caught:
        services.edit_message(
            chat_id=team.chat.pk, message_id=gone.pk, actor_id=team.member.pk, text="back"
        )
    assert caught.value.field == "message_id"


def test_a_message_is_only_found_in_its_own_chat(team, make_user):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="here")
    other = services.create_chat(title="Other", creator_id=team.member.pk)
    with pytest.raises(NotFound):
        services.delete_message(chat_id=other.pk, message_id=message.pk, actor_id=team.member.pk)


def test_a_new_admin_is_not_emailed_about_their_own_join(team, make_user):
    newcomer = make_user()
    services.add_member(
        chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=newcomer.pk, role=Role.ADMIN
    )
    told = Notification.objects.filter(event="member_added", body_text__contains=newcomer.username)
    assert [n.recipient_id for n in told] == [team.admin.pk]


def test_after_commit_each_notification_is_queued_on_the_broker(
    team, make_user, redis_service, django_capture_on_commit_callbacks
):
    """What a worker would receive: one task per notification on the `email` queue, carrying
    only the row's id, stamped with its send time (for the time-in-queue metrics)."""
    broker = redis.Redis.from_url(redis_service.url)
    broker.delete("email")
    newcomer = make_user()
    before = time.time()
    with django_capture_on_commit_callbacks(execute=True):
        services.add_member(chat_id=team.chat.pk, actor_id=team.admin.pk, user_id=newcomer.pk)
    queued = [json.loads(raw)["headers"] for raw in broker.lrange("email", 0, -1)]
    note = Notification.objects.get(
        event="member_added", recipient_id=team.owner.pk, body_text__contains=newcomer.username
    )
    assert [(h["task"], h["argsrepr"]) for h in queued] == [
        ("chats.tasks.send_admin_notification_task", f"[{note.pk}]")
    ]
    assert before <= queued[0]["sent_at"] <= time.time()


def test_a_message_centrifugo_cannot_take_is_one_live_task_for_its_event_and_its_tick(
    team, redis_service, django_capture_on_commit_callbacks, settings
):
    """The web process publishes after commit; when Centrifugo does not answer (nothing listens
    here), the chat's event and the live-statistics tick go together to the `live` queue."""
    settings.CENTRIFUGO_API_URL = f"http://127.0.0.1:{testing.free_port()}/api"
    broker = redis.Redis.from_url(redis_service.url)
    broker.delete("live")
    with django_capture_on_commit_callbacks(execute=True):
        message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="hi")
    queued = [json.loads(raw)["headers"] for raw in broker.lrange("live", 0, -1)]
    event = Publication.objects.get(channel=f"chat:{team.chat.pk}", data__message__id=message.pk)
    tick = Publication.objects.get(channel="stats:live", pk__gt=event.pk)
    assert [(h["task"], h["argsrepr"]) for h in queued] == [
        ("chats.tasks.publish_event_task", f"[{event.pk}, {tick.pk}]")
    ]


# --- deleting an account ------------------------------------------------------------------------


def test_deleting_the_owner_hands_the_chat_to_its_admin(team):
    owner_id = team.owner.pk
    team.owner.delete()
    roles = dict(Membership.objects.filter(chat=team.chat).values_list("user_id", "role"))
    assert roles == {team.admin.pk: Role.OWNER, team.member.pk: Role.MEMBER}
    assert events(team.chat.pk)[-1] == (owner_id, "leave")


def test_deleting_the_owner_of_a_chat_without_admins_hands_it_to_the_oldest_member(make_user):
    owner, first, second = make_user("o"), make_user("first"), make_user("second")
    chat = services.create_chat(title="Small", creator_id=owner.pk)
    for user in (first, second):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
    owner.delete()
    assert selectors.get_membership(chat.pk, first.pk).role == Role.OWNER
    assert selectors.get_membership(chat.pk, second.pk).role == Role.MEMBER


def test_deleting_the_owner_hands_the_chat_to_an_admin_even_if_a_member_joined_earlier(make_user):
    """Role first, seniority second: the oldest membership is a plain member's, yet the admin
    inherits the chat."""
    owner, member, admin = make_user("o"), make_user("early"), make_user("late-admin")
    chat = services.create_chat(title="Mixed", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=member.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    joined = Membership.objects.get(chat=chat, user=owner).joined_at
    Membership.objects.filter(chat=chat, user=member).update(joined_at=joined)
    Membership.objects.filter(chat=chat, user=admin).update(joined_at=joined + timedelta(days=1))
    owner.delete()
    assert selectors.get_membership(chat.pk, admin.pk).role == Role.OWNER
    assert selectors.get_membership(chat.pk, member.pk).role == Role.MEMBER


def test_deleting_the_only_member_deletes_the_chat(make_user):
    owner = make_user("lonely")
    chat = services.create_chat(title="Alone", creator_id=owner.pk)
    owner.delete()
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_deleting_a_plain_member_changes_no_role(team):
    team.member.delete()
    roles = dict(Membership.objects.filter(chat=team.chat).values_list("user_id", "role"))
    assert roles == {team.owner.pk: Role.OWNER, team.admin.pk: Role.ADMIN}

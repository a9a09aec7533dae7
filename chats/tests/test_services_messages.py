"""Services: the rules of messages and of deleting an account, and that a failure writes nothing."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model

import testing
from chats import selectors, services
from chats.models import Chat, Membership, Message, Notification, Publication, Role
from core.errors import DomainError, Forbidden, NotFound

from .support import events

User = get_user_model()


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

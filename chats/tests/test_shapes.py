"""A message's shape (chats.shapes), written out by hand for speed, is what its declared fields
give through DRF's generic serializer walk: same keys, values and time format, for every kind of
message the API and the live events carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework import serializers

from chats import selectors, services
from chats.models import Message, Publication
from chats.shapes import MessageSerializer, message_data
from integrations import centrifugo


def declared(message: Message) -> dict:
    """DRF's generic walk over MessageSerializer's fields, with the deleted-text rule."""
    data = serializers.ModelSerializer.to_representation(MessageSerializer(), message)
    if data["deleted"]:
        data["text"] = ""
    return data


@pytest.mark.django_db
def test_the_written_out_shape_is_the_declared_one(team) -> None:
    chat, author = team.chat.pk, team.member.pk
    plain = services.post_message(chat_id=chat, author_id=author, text="hello ✓ <b>x</b>")
    edited = services.post_message(chat_id=chat, author_id=author, text="helo")
    services.edit_message(chat_id=chat, message_id=edited.pk, actor_id=author, text="hello")
    deleted = services.post_message(chat_id=chat, author_id=author, text="gone")
    services.delete_message(chat_id=chat, message_id=deleted.pk, actor_id=author)
    orphan = services.post_message(chat_id=chat, author_id=team.admin.pk, text="by someone")
    Message.objects.filter(pk=orphan.pk).update(author=None)  # as after the account went
    Message.objects.filter(pk=plain.pk).update(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    everything = list(Message.objects.select_related("author").order_by("id"))
    assert len(everything) == 4
    for message in everything:
        assert message_data(message) == declared(message)
    listed = list(selectors.messages_of(chat))  # as the list endpoint loads them
    assert [message_data(m) for m in listed] == [declared(m) for m in listed]
    assert message_data(everything[0])["created_at"] == "2026-01-02T03:04:05Z"
    assert message_data(everything[2])["text"] == ""
    assert message_data(everything[3])["author"] is None


@pytest.mark.django_db
def test_a_post_names_its_author_whether_or_not_the_caller_passed_the_account(team) -> None:
    """The API passes the request's user to spare a query; any other caller passes an id."""
    chat = team.chat.pk
    services.post_message(chat_id=chat, author_id=team.member.pk, text="by id")
    services.post_message(chat_id=chat, author_id=team.member.pk, text="both", author=team.member)
    # An account that is not the author's is not taken for it.
    services.post_message(chat_id=chat, author_id=team.member.pk, text="odd", author=team.admin)
    events = Publication.objects.filter(channel=centrifugo.chat_channel(chat)).order_by("id")
    assert [event.data["message"]["author"] for event in events] == ["member"] * 3
    authors = Message.objects.order_by("id").values_list("author_id", flat=True)
    assert list(authors) == [team.member.pk] * 3

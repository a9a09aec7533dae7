"""The messages API, through DRF's APIClient
with real token authentication.

Bad input must be a 4xx whose JSON body names the field that was wrong, never a 500, and must
leave no row behind.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats import services
from chats.models import Message, Publication
from integrations import centrifugo

from .support import assert_names, url

User = get_user_model()
LONG_TEXT = "x" * 10_000


# --- messages -----------------------------------------------------------------------------------


def test_a_member_posts_a_message(team, client_for):
    response = client_for(team.member).post(
        url(team.chat.pk, "messages"), {"text": "hello"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["text"], body["author"], body["chat_id"]) == ("hello", "member", team.chat.pk)
    assert Message.objects.get(pk=body["id"]).text == "hello"


@pytest.mark.parametrize(
    "payload",
    [{}, {"text": ""}, {"text": "   \n "}, {"text": LONG_TEXT}, {"text": "a\x00b"}, {"text": None}],
    ids=["missing", "empty", "whitespace", "10000-chars", "nul-byte", "null"],
)
def test_post_message_refuses_bad_text_naming_it(team, client_for, payload):
    response = client_for(team.member).post(url(team.chat.pk, "messages"), payload, format="json")
    assert_names(response, "text", 400)
    assert not Message.objects.exists()


def test_a_non_member_cannot_post(team, client_for):
    response = client_for(team.outsider).post(
        url(team.chat.pk, "messages"), {"text": "let me in"}, format="json"
    )
    assert_names(response, "chat_id", 404)
    assert not Message.objects.exists()


def test_malformed_json_is_a_400(team, client_for):
    response = client_for(team.member).post(
        url(team.chat.pk, "messages"), data="{not json", content_type="application/json"
    )
    assert_names(response, "detail", 400)


def test_messages_are_cursor_paginated_newest_first(team, client_for):
    posted = [
        services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text=f"m{i}").pk
        for i in range(5)
    ]
    client = client_for(team.owner)
    page = client.get(url(team.chat.pk, "messages"), {"page_size": 2}).json()
    seen = [m["id"] for m in page["results"]]
    assert page["previous"] is None
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [m["id"] for m in page["results"]]
    assert seen == posted[::-1]


def test_message_list_refusals(team, client_for):
    messages = url(team.chat.pk, "messages")
    assert_names(client_for(team.outsider).get(messages), "chat_id", 404)
    assert_names(client_for(team.member).get(messages, {"cursor": "garbage!"}), "cursor", 400)
    # Well-formed base64, but the position is not a time: still a 400, not a 500.
    assert_names(
        client_for(team.member).get(messages, {"cursor": "cD1ub3QtYS1kYXRl"}), "cursor", 400
    )


def test_the_author_edits_a_message(team, client_for):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="helo")
    response = client_for(team.member).patch(
        url(team.chat.pk, "messages", message.pk), {"text": "hello"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["text"] == "hello"
    assert response.json()["edited_at"] is not None


def test_edit_message_refusals_name_the_field(team, client_for):
    message = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="mine")
    target = url(team.chat.pk, "messages", message.pk)
    author, owner = client_for(team.member), client_for(team.owner)
    assert_names(author.patch(target, {"text": LONG_TEXT}, format="json"), "text", 400)
    assert_names(author.patch(target, {"text": " "}, format="json"), "text", 400)
    assert_names(owner.patch(target, {"text": "theirs"}, format="json"), "message_id", 403)
    assert_names(
        client_for(team.outsider).patch(target, {"text": "x"}, format="json"), "message_id", 404
    )
    missing = url(team.chat.pk, "messages", message.pk + 1000)
    assert_names(author.patch(missing, {"text": "x"}, format="json"), "message_id", 404)
    assert Message.objects.get(pk=message.pk).text == "mine"


def test_the_author_deletes_a_message_and_it_leaves_the_list(team, client_for):
    kept = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="kept")
    gone = services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text="gone")
    client = client_for(team.member)
    assert_names(
        client_for(team.admin).delete(url(team.chat.pk, "messages", gone.pk)), "message_id", 403
    )
    assert client.delete(url(team.chat.pk, "messages", gone.pk)).status_code == 204
    listed = client.get(url(team.chat.pk, "messages")).json()["results"]
    assert [m["id"] for m in listed] == [kept.pk]
    assert_names(client.delete(url(team.chat.pk, "messages", gone.pk)), "message_id", 404)


def test_a_live_event_carries_the_message_as_the_api_returns_it(team, client_for):
    """One shape (chats.shapes): what the API answers for a post or an edit is what the chat's
    subscribers receive, and a deletion sends the same shape with the text gone."""
    client = client_for(team.member)
    posted = client.post(url(team.chat.pk, "messages"), {"text": "hi"}, format="json").json()
    edited = client.patch(
        url(team.chat.pk, "messages", posted["id"]), {"text": "hello"}, format="json"
    ).json()
    client.delete(url(team.chat.pk, "messages", posted["id"]))
    events = [
        p.data
        for p in Publication.objects.filter(channel=centrifugo.chat_channel(team.chat.pk)).order_by(
            "id"
        )
    ]
    assert [e["type"] for e in events] == ["message_created", "message_edited", "message_deleted"]
    assert events[0]["message"] == {**posted, "deleted": False}
    assert events[1]["message"] == {**edited, "deleted": False}
    assert posted["deleted"] is False and edited["text"] == "hello"
    assert events[2]["message"] == {**edited, "text": "", "deleted": True}


# --- the cost of the hot paths (issue 26's benchmark) -------------------------------------------

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The first word of each statement that reads or writes rows."""
    words = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    return [word for word in words if word not in TRANSACTION_CONTROL]


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "postgresql", reason="mark_done's one statement is PG's")
@pytest.mark.django_db(transaction=True)
def test_posting_costs_five_statements_its_live_publish_included(
    team, client_for, centrifugo_service
):
    """The token (with its user, the author), the membership (EXISTS; no query for the chat),
    the message, its two publications in one INSERT; then, once Centrifugo took them, one
    statement marks both published and counts them."""
    client = client_for(team.member)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url(team.chat.pk, "messages"), {"text": "hello"}, format="json")
    assert response.status_code == 201
    assert (response.json()["author"], response.json()["text"]) == ("member", "hello")
    assert statements(queries) == ["SELECT", "SELECT", "INSERT", "INSERT", "WITH"]
    assert len(queries.captured_queries) == 7  # and two transactions: the post's, the mark's
    assert set(Publication.objects.values_list("status", flat=True)) == {"sent"}


def test_listing_messages_costs_three_statements(team, client_for):
    """The token, the membership, and one page of messages with their authors' names."""
    for n in range(3):
        services.post_message(chat_id=team.chat.pk, author_id=team.member.pk, text=f"m{n}")
    client = client_for(team.member)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url(team.chat.pk, "messages")).json()
    assert [m["author"] for m in page["results"]] == ["member"] * 3
    assert statements(queries) == ["SELECT", "SELECT", "SELECT"]

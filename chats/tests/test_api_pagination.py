"""Every list endpoint of the API comes in cursor pages (chats/api/pagination.py): each row once,
in a stable order, however many pages; `page_size` clamped to the documented maximum; a garbage
cursor is a 400 naming `cursor`, never a 500.

Each case builds more rows than fit on one page, then walks the pages as a client would, by the
`next` links (and back by `previous`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from chats import services

from .support import assert_names, url

User = get_user_model()
ROWS = 7  # more than the page sizes below


@dataclass
class Listing:
    """One list endpoint, a reader allowed to see it, and the ids it must list, in order."""

    path: str
    reader: User
    expected: list[int]
    key: str  # the field of a result that identifies its row


def chats_of_one_user(team, make_user) -> Listing:
    """The member belongs to `Team` and to more chats; other people's chats are not listed."""
    owned = [services.create_chat(title=f"c{n}", creator_id=team.member.pk).pk for n in range(ROWS)]
    services.create_chat(title="not theirs", creator_id=team.outsider.pk)
    return Listing("/api/chats/", team.member, [team.chat.pk, *owned], "id")


def members_of_one_chat(team, make_user) -> Listing:
    """The chat's members in the order they joined (`team` made owner, admin, member)."""
    joined = [make_user() for _ in range(ROWS)]
    for user in joined:
        services.add_member(chat_id=team.chat.pk, actor_id=team.owner.pk, user_id=user.pk)
    everyone = [team.owner, team.admin, team.member, *joined]
    return Listing(url(team.chat.pk, "members"), team.member, [u.pk for u in everyone], "user_id")


def messages_of_one_chat(team, make_user) -> Listing:
    """Newest first."""
    posted = [
        services.post_message(chat_id=team.chat.pk, author_id=team.owner.pk, text=f"m{n}").pk
        for n in range(ROWS)
    ]
    return Listing(url(team.chat.pk, "messages"), team.member, posted[::-1], "id")


LISTINGS = [chats_of_one_user, members_of_one_chat, messages_of_one_chat]


@pytest.fixture(params=LISTINGS, ids=lambda build: build.__name__)
def listing(request, team, make_user) -> Listing:
    return request.param(team, make_user)


def walk(client: APIClient, first: str, key: str, link: str = "next", **query: object) -> list:
    """Follow `link` from `first` to the end; the ids of every page, page by page."""
    pages, body = [], client.get(first, query).json()
    pages.append([row[key] for row in body["results"]])
    while body[link]:
        body = client.get(body[link]).json()
        pages.append([row[key] for row in body["results"]])
    return pages


def test_walking_the_pages_lists_every_row_once_in_order(listing, client_for):
    client = client_for(listing.reader)
    pages = walk(client, listing.path, listing.key, page_size=3)
    assert [len(page) for page in pages[:-1]] == [3] * (len(pages) - 1)
    assert [row for page in pages for row in page] == listing.expected

    # And back again from the last page, by `previous`: the same pages.
    last = client.get(listing.path, {"page_size": 3}).json()
    while last["next"]:
        last = client.get(last["next"]).json()
    backwards = walk(client, last["previous"], listing.key, link="previous")
    assert backwards == pages[-2::-1]


def test_the_first_page_has_no_previous_and_the_last_no_next(listing, client_for):
    body = client_for(listing.reader).get(listing.path, {"page_size": len(listing.expected)})
    assert body.json()["previous"] is None
    assert body.json()["next"] is None
    assert [row[listing.key] for row in body.json()["results"]] == listing.expected


def test_a_row_added_between_pages_is_neither_repeated_nor_skipped(team, make_user, client_for):
    listing = chats_of_one_user(team, make_user)
    client = client_for(listing.reader)
    first = client.get(listing.path, {"page_size": 3}).json()
    late = services.create_chat(title="late", creator_id=team.member.pk).pk
    seen = [row["id"] for row in first["results"]]
    seen += [row for page in walk(client, first["next"], "id") for row in page]
    assert seen == [*listing.expected, late]


def test_the_page_size_is_a_setting_and_capped_at_the_maximum(listing, client_for, settings):
    settings.API_PAGE_SIZE, settings.API_MAX_PAGE_SIZE = 2, 4
    client = client_for(listing.reader)
    assert len(client.get(listing.path).json()["results"]) == 2  # the default
    assert len(client.get(listing.path, {"page_size": 3}).json()["results"]) == 3
    for asked in (4, 5, 1000, 10**30):  # more than the maximum: the maximum
        assert len(client.get(listing.path, {"page_size": asked}).json()["results"]) == 4


@pytest.mark.parametrize("asked", ["0", "-1", "abc", "1.5", "", " 2", "٣", "2" * 400])
def test_a_page_size_that_is_no_positive_integer_means_the_default(
    listing, client_for, settings, asked
):
    """DRF's behaviour: ignored, not refused (a huge one is just more than the maximum)."""
    settings.API_PAGE_SIZE, settings.API_MAX_PAGE_SIZE = 2, 5
    response = client_for(listing.reader).get(listing.path, {"page_size": asked})
    assert response.status_code == 200
    assert len(response.json()["results"]) == (5 if asked == "2" * 400 else 2)


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


GARBAGE_CURSORS = {
    "not-base64": "garbage!",
    "not-ascii": "Zm9v\u00e9",
    "no-position-value": cursor("p=not-a-position"),
    "nul-byte": cursor("p=1\x00"),
    "offset-negative": cursor("o=-1&p=1"),
    "offset-a-word": cursor("o=many"),
    "reverse-a-word": cursor("r=maybe&p=1"),
}


@pytest.mark.parametrize("value", GARBAGE_CURSORS.values(), ids=GARBAGE_CURSORS.keys())
def test_a_garbage_cursor_is_a_400_naming_cursor(listing, client_for, value):
    assert_names(client_for(listing.reader).get(listing.path, {"cursor": value}), "cursor", 400)


@pytest.mark.parametrize("position", ["9" * 30, "-" + "9" * 30, "0"])
def test_a_cursor_beyond_every_row_is_an_answer_not_a_500(team, make_user, client_for, position):
    """A position out of the id column's range: an empty or full page, as the order says."""
    listing = chats_of_one_user(team, make_user)
    response = client_for(listing.reader).get(listing.path, {"cursor": cursor(f"p={position}")})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        ids = [row["id"] for row in response.json()["results"]]
        assert ids in ([], listing.expected)


def test_a_non_member_reads_no_members(team, client_for):
    members = url(team.chat.pk, "members")
    assert_names(client_for(team.outsider).get(members, {"page_size": 1}), "chat_id", 404)


def test_every_list_in_the_schema_is_paginated(client_for, make_user):
    """No list endpoint returns a bare array: each 200 is the page object, with the cursor and
    the page size among its parameters (a new list view without pagination fails here)."""
    schema = client_for(make_user()).get("/api/schema/", {"format": "json"}).json()
    lists = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            ok = operation["responses"].get("200", {}).get("content", {})
            body = ok.get("application/json", {}).get("schema", {})
            assert body.get("type") != "array", f"{method.upper()} {path} returns a bare array"
            ref = body.get("$ref", "")
            if ref.startswith("#/components/schemas/Paginated"):
                lists.append(f"{method.upper()} {path}")
                names = {p["name"] for p in operation.get("parameters", [])}
                assert {"cursor", "page_size"} <= names, (path, names)
                component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
                assert {"next", "previous", "results"} <= component["properties"].keys()
    assert lists == [
        "GET /api/chats/",
        "GET /api/chats/{chat_id}/members/",
        "GET /api/chats/{chat_id}/messages/",
        "GET /api/invitations/",
    ]


def test_the_maximum_page_size_is_documented(client_for, make_user, settings):
    schema = client_for(make_user()).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/chats/"]["get"]
    [page_size] = [p for p in operation["parameters"] if p["name"] == "page_size"]
    assert f"at most {settings.API_MAX_PAGE_SIZE}" in page_size["description"]

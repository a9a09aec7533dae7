"""Chat titles and usernames with control or bidi characters are refused with a 400 naming the
field, by the API, the services and the admin alike (a newline in a title broke every admin email
of the chat; a bidi override makes a name read as something else)."""

from __future__ import annotations

import pytest
from django.test import Client

from chats import services
from chats.models import Chat
from core.errors import DomainError
from core.validators import unsafe_characters

from .support import assert_names, url

pytestmark = pytest.mark.django_db

UNSAFE = [
    "line\nbreak",
    "car\rriage",
    "tab\there",
    "nul\x00",
    "bell\x07",
    "del\x7f",
    "c1\x85control",
    "rlo \u202etxt.exe",
    "lre \u202a",
    "pdf \u202c",
    "lri \u2066",
    "pdi \u2069",
    "lrm \u200e",
    "rlm \u200f",
    "alm \u061c",
    "bom \ufeff",
    "soft\u00adhyphen",
    "line\u2028separator",
    "para\u2029separator",
]
SAFE = [
    "Team chat",
    "Ünïcödé — ok",
    "שלום עולם",  # right-to-left script itself is fine, only the controls are refused
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with the ZWNJ its spelling needs
    "family \U0001f468\u200d\U0001f469\u200d\U0001f467",  # a ZWJ emoji sequence
]


@pytest.mark.parametrize("title", UNSAFE)
def test_creating_a_chat_with_a_control_or_bidi_title_is_400_naming_title(
    make_user, client_for, title
):
    response = client_for(make_user()).post("/api/chats/", {"title": title}, format="json")
    assert_names(response, "title", 400)
    assert "control" in response.json()["title"][0]
    assert not Chat.objects.exists()


@pytest.mark.parametrize("title", ["ren\name", "ren\u202eame", "ren\u2067ame"])
def test_renaming_a_chat_to_a_control_or_bidi_title_is_400_naming_title(team, client_for, title):
    response = client_for(team.owner).patch(url(team.chat.pk), {"title": title}, format="json")
    assert_names(response, "title", 400)
    team.chat.refresh_from_db()
    assert team.chat.title == "Team"


@pytest.mark.parametrize("title", SAFE)
def test_titles_in_any_script_and_emoji_sequences_are_accepted(make_user, client_for, title):
    response = client_for(make_user()).post("/api/chats/", {"title": title}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["title"] == title


@pytest.mark.parametrize("username", ["bob\u202e", "\u2066bob", "bo\nb", "bo\tb", "bob\u200f"])
def test_registering_a_username_with_control_or_bidi_characters_is_400_naming_it(username):
    response = Client().post(
        "/api/auth/register/",
        {"username": username, "email": "bob@example.com", "password": "a-long-test-password"},
        content_type="application/json",
    )
    assert_names(response, "username", 400)
    assert any("control" in message for message in response.json()["username"])


def test_the_services_refuse_what_the_api_refuses(team):
    """Scripts, shells and future views call the services directly."""
    with pytest.raises(DomainError) as created:
        services.create_chat(title="a\u202eb", creator_id=team.owner.pk)
    assert created.value.field == "title"
    with pytest.raises(DomainError) as renamed:
        services.update_chat(chat_id=team.chat.pk, actor_id=team.owner.pk, title="a\nb")
    assert renamed.value.field == "title"
    with pytest.raises(DomainError) as registered:
        services.register_user(username="eve\u202e", email="e@example.com", password="x" * 12)
    assert registered.value.field == "username"


def test_the_admin_refuses_a_control_character_title(team, make_user):
    staff = Client()
    staff.force_login(make_user("staff", is_staff=True, is_superuser=True))
    response = staff.post(
        f"/admin/chats/chat/{team.chat.pk}/change/",
        {
            "title": "Team\u202e",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert "control or invisible formatting characters" in response.content.decode()
    team.chat.refresh_from_db()
    assert team.chat.title == "Team"


def test_unsafe_characters_names_each_code_point_once():
    assert unsafe_characters("a\u202eb\u202e\nc\u200dd") == ["U+202E", "U+000A"]

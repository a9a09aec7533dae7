"""One-click unsubscribe (RFC 8058) and the email settings page, as a recipient meets them.

The link is read from a real email (real worker, real SMTP inbox) and used with a client that has
no session and enforces CSRF, as a mail client's "Unsubscribe" button does; its effect is read
from the next email that does or does not arrive. The forgery tests post tampered links. A
chat's link stops that chat, a chat-less one all email (test_email_consent.py follows that one
through real emails); the settings page's other switches: test_settings_page.py.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client

import testing
from accounts import profiles
from accounts.models import Profile
from chats import services
from chats.emails import unsubscribe
from chats.models import Membership, Role
from testing.people import PASSWORD

from .support import PUBLIC, all_done

User = get_user_model()
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def emails_on(user: User, chat_id: int) -> bool:
    return Membership.objects.get(user=user, chat_id=chat_id).email_notifications


def all_email_on(user: User) -> bool:
    return not profiles.profile_of(user.pk).email_off


def path_of(url: str) -> str:
    return urlsplit(url).path


def tampered(token: str, value: object) -> str:
    """`value` with the signature of `token`: what someone editing a link would try."""
    _, signature = token.rsplit(":", 1)
    payload = signing.b64_encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    return f"{payload}:{signature}"


def csrf_from(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


def buttons(html: str) -> dict[str, str]:
    """The unsubscribe page's choices: each scope button's value and its text."""
    found = re.findall(r'<button type="submit" name="scope" value="(\w+)">([^<]+)</button>', html)
    return {value: " ".join(text.split()) for value, text in found}


# --- from a real email ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_link_in_a_real_email_turns_off_that_chats_emails_without_a_session(
    smtp, email_worker, make_user
):
    owner, adam, nina, mona, paul = map(make_user, ["olga", "adam", "nina", "mona", "paul"])
    design = services.create_chat(title="Design", creator_id=owner.pk)
    ops = services.create_chat(title="Ops", creator_id=owner.pk)
    for chat in (design, ops):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    services.add_member(chat_id=design.pk, actor_id=owner.pk, user_id=nina.pk)
    all_done()
    to_adam = [m for m in smtp.inbox.messages() if m.envelope_to == ["adam@example.com"]]
    assert [m.subject for m in to_adam] == ["[Design] nina joined the chat"]
    mail = to_adam[0]

    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://chat\.example\.test/\S+)>", mail.header("List-Unsubscribe"))
    assert link, mail.header("List-Unsubscribe")
    url = path_of(link[1])

    # A mail scanner's prefetch (or a person opening the link) changes nothing; the page
    # offers this chat and all email.
    page = Client(enforce_csrf_checks=True).get(url)
    assert page.status_code == 200
    assert buttons(page.text) == {"chat": "Stop emails about “Design”",
                                  "all": "Stop all email from Chat Platform"}  # fmt: skip
    assert "/settings/email/" in page.text
    assert emails_on(adam, design.pk)

    # The mail client's one-click POST: no cookie, no CSRF token, answered 200 in place.
    clicked = Client(enforce_csrf_checks=True).post(url, ONE_CLICK)
    assert clicked.status_code == 200
    assert "Location" not in clicked
    assert "Unsubscribed" in clicked.text
    assert "no more emails about the chat “Design”" in clicked.text
    assert not emails_on(adam, design.pk)
    assert emails_on(adam, ops.pk) and all_email_on(adam)
    assert Client(enforce_csrf_checks=True).post(url, ONE_CLICK).status_code == 200  # again

    before = set(smtp.inbox.names())
    services.add_member(chat_id=design.pk, actor_id=owner.pk, user_id=mona.pk)
    services.add_member(chat_id=ops.pk, actor_id=owner.pk, user_id=paul.pk)
    all_done()
    new = [m for m in smtp.inbox.messages() if m.name not in before]
    assert [m.subject for m in new if m.envelope_to == ["adam@example.com"]] == [
        "[Ops] paul joined the chat"
    ]


# --- the endpoint ---------------------------------------------------------------------------------


@pytest.fixture
def two_chats(make_user):
    owner, adam = make_user("olga"), make_user("adam")
    design = services.create_chat(title="Design", creator_id=owner.pk)
    ops = services.create_chat(title="Ops", creator_id=owner.pk)
    for chat in (design, ops):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    return owner, adam, design, ops


@pytest.mark.django_db
def test_a_get_only_asks(two_chats):
    _, adam, design, _ = two_chats
    url = path_of(unsubscribe.unsubscribe_url(adam.pk, design.pk))
    for _ in range(3):
        assert Client().get(url).status_code == 200
    assert emails_on(adam, design.pk)


@pytest.mark.django_db
def test_a_chat_less_link_offers_only_all_email(two_chats):
    _, adam, _, _ = two_chats
    page = Client().get(path_of(unsubscribe.unsubscribe_url(adam.pk, None)))
    assert page.status_code == 200
    assert buttons(page.text) == {"all": "Stop all email from Chat Platform"}
    assert all_email_on(adam)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"List-Unsubscribe": "Yes"},
        {"scope": "everything"},
        {"scope": ""},
        {"scope": "chat", "List-Unsubscribe": "One-Click"},  # the chat scope of a chat-less link
    ],
)
@pytest.mark.django_db
def test_a_post_without_a_valid_choice_changes_nothing(two_chats, body):
    _, adam, design, _ = two_chats
    for chat_id in (design.pk, None):
        if chat_id and body.get("scope") == "chat":
            continue  # a chat's link may stop its chat: not a bad choice
        url = path_of(unsubscribe.unsubscribe_url(adam.pk, chat_id))
        response = Client(enforce_csrf_checks=True).post(url, body)
        assert response.status_code == 400, (chat_id, body)
        assert "Choose what to stop" in response.text and "Nothing changed" in response.text
        assert "Stop all email from Chat Platform" in buttons(response.text).values()
    assert emails_on(adam, design.pk) and all_email_on(adam)


@pytest.mark.django_db
def test_a_chat_link_stops_all_email_when_that_is_the_choice(two_chats):
    _, adam, design, ops = two_chats
    url = path_of(unsubscribe.unsubscribe_url(adam.pk, design.pk))
    for _ in range(2):  # idempotent
        answer = Client(enforce_csrf_checks=True).post(url, {"scope": "all"})
        assert answer.status_code == 200
        assert "no more email from Chat Platform" in answer.text
    assert not all_email_on(adam)
    assert emails_on(adam, design.pk) and emails_on(adam, ops.pk)  # each chat's switch kept


@pytest.mark.django_db
def test_a_chat_less_links_one_click_stops_all_email(two_chats):
    owner, adam, design, _ = two_chats
    url = path_of(unsubscribe.unsubscribe_url(adam.pk, None))
    for _ in range(2):
        answer = Client(enforce_csrf_checks=True).post(url, ONE_CLICK)
        assert answer.status_code == 200 and "Location" not in answer
        assert "no more email from Chat Platform" in answer.text
    assert not all_email_on(adam)
    assert emails_on(adam, design.pk) and all_email_on(owner)


@pytest.mark.django_db
def test_a_link_from_before_the_two_scopes_keeps_its_meaning(two_chats):
    """The links already in inboxes were signed [recipient_id, chat_id], as the chat scope's
    still are: the old code's token, made here as it made it, stops that chat only."""
    owner, adam, design, ops = two_chats
    old = signing.Signer(salt="chats.unsubscribe").sign_object([adam.pk, design.pk])
    url = f"/email/unsubscribe/{old}/"
    assert "chat" in buttons(Client().get(url).text)
    assert Client(enforce_csrf_checks=True).post(url, ONE_CLICK).status_code == 200
    assert not emails_on(adam, design.pk)
    assert emails_on(adam, ops.pk) and all_email_on(adam) and emails_on(owner, design.pk)


@pytest.mark.django_db
def test_forged_or_altered_links_change_nothing(two_chats):
    owner, adam, design, ops = two_chats
    token = unsubscribe.make_token(adam.pk, design.pk)
    forged = [
        tampered(token, [adam.pk, ops.pk]),  # adam's link edited to another chat
        tampered(token, [owner.pk, design.pk]),  # ... to another recipient
        tampered(token, [adam.pk, 0]),  # ... to all email
        tampered(unsubscribe.make_token(adam.pk, None), [owner.pk, 0]),  # all, of another
        signing.Signer().sign_object([adam.pk, ops.pk]),  # signed, but not for unsubscribing
        signing.Signer(salt="other").sign_object([owner.pk, design.pk]),
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        "not-a-token",
    ]
    for bad in forged:
        response = Client(enforce_csrf_checks=True).post(f"/email/unsubscribe/{bad}/", ONE_CLICK)
        assert response.status_code in (400, 404), bad
        assert "not valid" in response.text
    assert emails_on(adam, design.pk) and emails_on(adam, ops.pk) and emails_on(owner, design.pk)
    assert all_email_on(adam) and all_email_on(owner)


@pytest.mark.django_db
def test_one_recipients_link_turns_off_only_their_emails(two_chats):
    owner, adam, design, ops = two_chats
    url = path_of(unsubscribe.unsubscribe_url(owner.pk, design.pk))
    assert Client(enforce_csrf_checks=True).post(url, ONE_CLICK).status_code == 200
    assert not emails_on(owner, design.pk)
    assert emails_on(adam, design.pk) and emails_on(owner, ops.pk)


@pytest.mark.django_db
def test_a_former_admin_or_a_deleted_chat_gets_200_and_nothing_happens(two_chats):
    owner, adam, design, ops = two_chats
    services.remove_member(chat_id=design.pk, actor_id=owner.pk, user_id=adam.pk)
    services.delete_chat(chat_id=ops.pk, actor_id=owner.pk)
    for chat_id in (design.pk, ops.pk):
        url = path_of(unsubscribe.unsubscribe_url(adam.pk, chat_id))
        assert Client(enforce_csrf_checks=True).post(url, ONE_CLICK).status_code == 200
    assert emails_on(owner, design.pk)


@pytest.mark.django_db
def test_a_deleted_accounts_link_gets_200_and_nothing_happens(make_user):
    gone = make_user("gone")
    urls = [path_of(unsubscribe.unsubscribe_url(gone.pk, chat_id)) for chat_id in (None, 1)]
    gone.delete()
    for url in urls:
        for body in (ONE_CLICK, {"scope": "all"}):
            assert Client(enforce_csrf_checks=True).post(url, body).status_code == 200
    assert not Profile.objects.filter(user_id=gone.pk).exists()


# --- the settings page ----------------------------------------------------------------------------


def logged_in(username: str) -> Client:
    """A browser-like client, logged in through the /login/ page with CSRF enforced."""
    client = Client(enforce_csrf_checks=True)
    token = csrf_from(client.get("/login/").text)
    response = client.post(
        "/login/", {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302, response.content
    return client


def rows(html: str) -> dict[str, str]:
    """Each chat's title and its shown state, from the settings table."""
    return dict(re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>(on|off)</td>", html))


@pytest.mark.django_db
def test_the_settings_page_shows_an_unsubscribe_and_undoes_it(two_chats, make_user):
    _, adam, design, ops = two_chats
    elsewhere = services.create_chat(title="Elsewhere", creator_id=make_user("zed").pk)
    services.add_member(chat_id=elsewhere.pk, actor_id=elsewhere.created_by_id, user_id=adam.pk)
    url = path_of(unsubscribe.unsubscribe_url(adam.pk, design.pk))
    Client(enforce_csrf_checks=True).post(url, ONE_CLICK)

    client = logged_in("adam")
    page = client.get("/settings/email/")
    assert page.status_code == 200
    assert rows(page.text) == {"Design": "off", "Ops": "on"}  # a plain member gets no emails

    form = {"chat_id": design.pk, "email_notifications": "on"}
    assert client.post("/settings/email/", form).status_code == 403  # no CSRF token
    assert not emails_on(adam, design.pk)
    answer = client.post("/settings/email/", {**form, "csrfmiddlewaretoken": csrf_from(page.text)})
    assert answer.status_code == 302 and answer["Location"] == "/settings/email/"
    assert emails_on(adam, design.pk)
    page = client.get("/settings/email/")
    assert rows(page.text) == {"Design": "on", "Ops": "on"}

    off = {"chat_id": ops.pk, "email_notifications": "off"}
    client.post("/settings/email/", {**off, "csrfmiddlewaretoken": csrf_from(page.text)})
    assert rows(client.get("/settings/email/").text) == {"Design": "on", "Ops": "off"}

    # Not an admin there: refused, nothing changes.
    token = csrf_from(page.text)
    form = {"chat_id": elsewhere.pk, "email_notifications": "off", "csrfmiddlewaretoken": token}
    assert client.post("/settings/email/", form).status_code == 404
    assert emails_on(adam, elsewhere.pk)


@pytest.mark.django_db
def test_the_settings_page_needs_a_login():
    response = Client().get("/settings/email/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- configuration --------------------------------------------------------------------------------


def test_without_debug_only_an_https_public_base_url_starts():
    for value in ("", "http://chat.example.com", "chat.example.com"):
        result = testing.manage_check(DJANGO_DEBUG="false", PUBLIC_BASE_URL=value)
        assert result.returncode != 0, value
        assert "ImproperlyConfigured" in result.stderr, result.stderr
        assert "PUBLIC_BASE_URL" in result.stderr, result.stderr
    for env in (
        {"DJANGO_DEBUG": "false", "PUBLIC_BASE_URL": "https://chat.example.com"},
        {"DJANGO_DEBUG": "true", "PUBLIC_BASE_URL": ""},
    ):
        started = testing.manage_check(**env)
        assert started.returncode == 0, started.stderr


@pytest.mark.parametrize(
    ("event", "scope"),
    [
        ("member_added", 42),
        ("member_removed", 42),
        ("chat_deleted", 42),
        ("invitation", None),  # names a chat, but stopping it stops email
        ("digest", None),
        ("confirm_email", None),
    ],
)
def test_the_headers_name_the_public_base_url_and_the_emails_scope(settings, event, scope):
    settings.PUBLIC_BASE_URL = PUBLIC
    headers = unsubscribe.list_headers(7, 42, event)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"][1:-1]
    assert url.startswith(PUBLIC + "/email/unsubscribe/")
    assert unsubscribe.parse_token(url.split("/")[-2]) == (7, scope)

"""One-click unsubscribe (RFC 8058) and the email settings page, as a recipient meets them.

The link is read from a real email (real worker, real SMTP inbox) and used with a client that has
no session and enforces CSRF, as a mail client's "Unsubscribe" button does; its effect is read
from the next email that does or does not arrive. The forgery tests post tampered links.
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
from chatplatform.celery import app as celery_app
from chats import services
from chats.emails import unsubscribe
from chats.models import Membership, Role
from testing.people import PASSWORD

from .support import all_done

User = get_user_model()
PUBLIC = "https://chat.example.test"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def emails_on(user: User, chat_id: int) -> bool:
    return Membership.objects.get(user=user, chat_id=chat_id).email_notifications


def path_of(url: str) -> str:
    return urlsplit(url).path


def tampered(token: str, value: object) -> str:
    """`value` with the signature of `token`: what someone editing a link would try."""
    _, signature = token.rsplit(":", 1)
    payload = signing.b64_encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    return f"{payload}:{signature}"


def csrf_from(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]


# --- from a real email ---------------------------------------------------------------------------


@pytest.fixture
def email_worker(redis_service, start_worker) -> testing.ManagedProcess:
    """A real worker that sends to this test's SMTP server, with the site at PUBLIC."""
    celery_app.control.purge()
    return start_worker(PUBLIC_BASE_URL=PUBLIC)


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

    # A mail scanner's prefetch (or a person opening the link) changes nothing.
    page = Client(enforce_csrf_checks=True).get(url)
    assert page.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert "/settings/email/" in page.text
    assert emails_on(adam, design.pk)

    # The mail client's one-click POST: no cookie, no CSRF token, answered 200 in place.
    clicked = Client(enforce_csrf_checks=True).post(url, ONE_CLICK)
    assert clicked.status_code == 200
    assert "Location" not in clicked
    assert "Unsubscribed" in clicked.text
    assert not emails_on(adam, design.pk)
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
def test_a_post_without_the_one_click_body_changes_nothing(two_chats):
    _, adam, design, _ = two_chats
    url = path_of(unsubscribe.unsubscribe_url(adam.pk, design.pk))
    assert Client(enforce_csrf_checks=True).post(url, {}).status_code == 400
    assert emails_on(adam, design.pk)


@pytest.mark.django_db
def test_forged_or_altered_links_change_nothing(two_chats):
    owner, adam, design, ops = two_chats
    token = unsubscribe.make_token(adam.pk, design.pk)
    forged = [
        tampered(token, [adam.pk, ops.pk]),  # adam's link edited to another chat
        tampered(token, [owner.pk, design.pk]),  # ... to another recipient
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


def test_the_headers_name_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    headers = unsubscribe.list_headers(7, 42)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"][1:-1]
    assert url.startswith(PUBLIC + "/email/unsubscribe/")
    assert unsubscribe.parse_token(url.split("/")[-2]) == (7, 42)

"""The email settings page (/settings/email/) as its user meets it: logged in through /login/
with CSRF enforced, each switch read back from the page and its effect from what happens next
(an add that becomes an invitation, a confirmation link in a real SMTP inbox).

The per-chat switches and the unsubscribe link it undoes: test_unsubscribe.py.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts import profiles
from accounts.models import AddPolicy
from chats import services
from chats.emails import unsubscribe
from chats.models import Membership, Notification, Role

from .support import all_done
from .test_unsubscribe import ONE_CLICK, PUBLIC, csrf_from, logged_in, path_of

User = get_user_model()
PAGE = "/settings/email/"


def post(client: Client, **form: object) -> object:
    """Submit one of the page's forms, with the CSRF token the page carries."""
    token = csrf_from(client.get(PAGE).text)
    return client.post(PAGE, {**form, "csrfmiddlewaretoken": token})


def text(html: str) -> str:
    """The page's words, without tags and extra spaces: what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def checked_policy(html: str) -> str:
    [value] = re.findall(r'name="who_can_add" value="(\w+)" checked', html)
    return value


def consent(user: User) -> tuple:
    profile = profiles.profile_of(user.pk)
    memberships = Membership.objects.filter(user=user).order_by("id")
    return (
        profile.email_off,
        profile.who_can_add,
        profile.confirmed_email,
        list(memberships.values_list("email_notifications", flat=True)),
        Notification.objects.filter(recipient_id=user.pk).count(),
    )


# --- what the page shows -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_the_address_all_email_and_who_may_add(make_user):
    make_user("adam", who_can_add=AddPolicy.CONTACTS)
    page = logged_in("adam").get(PAGE)
    assert page.status_code == 200
    seen = text(page.text)
    assert "adam@example.com is confirmed" in seen
    assert "Send me a new confirmation link" not in seen
    assert "All email from Chat Platform is on." in seen
    assert "Turn all email off" in seen
    assert checked_policy(page.text) == "contacts"
    for label in ("Everyone", "People I already share a chat with", "Nobody"):
        assert label in seen
    assert "anyone else sends an invitation that you accept or decline" in seen
    assert "You are not an owner or admin of any chat" in seen


@pytest.mark.django_db
def test_an_unconfirmed_address_is_said_so_with_a_button_for_a_new_link(make_user):
    make_user("uma", confirmed=False)
    seen = text(logged_in("uma").get(PAGE).text)
    assert "uma@example.com is not confirmed: until you open the link" in seen
    assert "Send me a new confirmation link" in seen


# --- all email -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_all_email_turned_off_by_a_link_is_turned_on_here(make_user):
    adam = make_user("adam")
    Client().post(path_of(unsubscribe.unsubscribe_url(adam.pk, None)), ONE_CLICK)
    client = logged_in("adam")
    seen = text(client.get(PAGE).text)
    assert "All email from Chat Platform is off: you get no" in seen
    assert "Turn all email on" in seen

    answer = post(client, action="all_email", email="on")

    assert answer.status_code == 302 and answer["Location"] == PAGE
    seen = text(client.get(PAGE).text)
    assert seen.count("All email from Chat Platform is on.") == 2  # the message, the switch
    assert "Turn all email off" in seen
    assert not profiles.profile_of(adam.pk).email_off

    assert post(client, action="all_email", email="off").status_code == 302
    assert "Turn all email on" in text(client.get(PAGE).text)
    assert profiles.profile_of(adam.pk).email_off


# --- who may add you -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_who_may_add_you_decides_whether_an_add_is_an_invitation(make_user, client_for):
    adam, owner = make_user("adam"), make_user("olga")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    client = logged_in("adam")
    assert checked_policy(client.get(PAGE).text) == "everyone"

    answer = post(client, action="who_can_add", who_can_add="nobody")

    assert answer.status_code == 302
    page = client.get(PAGE).text
    assert checked_policy(page) == "nobody"
    assert "Who may add you to chats: Nobody." in text(page)
    add = {"user_id": adam.pk, "role": Role.MEMBER}
    response = client_for(owner).post(f"/api/chats/{chat.pk}/members/", add, format="json")
    assert response.status_code == 202 and response.json()["status"] == "invited"
    assert not Membership.objects.filter(chat=chat, user=adam).exists()

    post(client, action="who_can_add", who_can_add="everyone")
    other = services.create_chat(title="Dev", creator_id=owner.pk)
    response = client_for(owner).post(f"/api/chats/{other.pk}/members/", add, format="json")
    assert response.status_code == 201, response.content
    assert Membership.objects.filter(chat=other, user=adam).exists()


# --- bad posts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "everything", "email": "off"}, "Unknown setting: nothing changed."),
        ({"action": "all_email", "email": "maybe"}, "Choose on or off for all email."),
        ({"action": "all_email"}, "Choose on or off for all email."),
        ({"action": "who_can_add", "who_can_add": "admins"}, "Choose who may add you to chats."),
        ({"action": "who_can_add"}, "Choose who may add you to chats."),
        ({"action": "chat", "chat_id": "x", "email_notifications": "off"}, "Choose a chat"),
        ({"action": "chat", "email_notifications": "maybe"}, "Choose a chat and on or off."),
    ],
)
@pytest.mark.django_db
def test_a_bad_post_is_a_400_that_says_why_and_changes_nothing(make_user, form, message):
    adam, owner = make_user("adam"), make_user("olga")
    chat = services.create_chat(title="Ops", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=adam.pk, role=Role.ADMIN)
    client = logged_in("adam")
    before = consent(adam)

    answer = post(client, **form)

    assert answer.status_code == 400
    assert message in text(answer.text)
    assert "Email settings" in answer.text  # the page again, with its forms
    assert consent(adam) == before


@pytest.mark.django_db
def test_a_post_without_the_pages_csrf_token_is_refused(make_user):
    adam = make_user("adam")
    client = logged_in("adam")
    for form in ({"action": "all_email", "email": "off"}, {"action": "confirmation"}):
        assert client.post(PAGE, form).status_code == 403
    assert not profiles.profile_of(adam.pk).email_off


# --- a new confirmation link ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_new_confirmation_link_arrives_and_confirms_the_address(
    settings, smtp, email_worker, make_user
):
    settings.PUBLIC_BASE_URL = PUBLIC  # the body is written here, the headers by the worker
    make_user("uma", confirmed=False)
    client = logged_in("uma")

    answer = post(client, action="confirmation")

    assert answer.status_code == 302
    assert "A new confirmation link is on its way to uma@example.com." in text(
        client.get(PAGE).text
    )
    all_done()
    [mail] = smtp.inbox.messages()
    assert mail.envelope_to == ["uma@example.com"]
    assert mail.subject == "Confirm your email address"
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    link = re.search(r"https://chat\.example\.test(/account/confirm/\S+/)", mail.text)[1]
    confirm = Client(enforce_csrf_checks=True)
    token = csrf_from(confirm.get(link).text)
    done = confirm.post(link, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200 and "Address confirmed" in done.text

    seen = text(client.get(PAGE).text)
    assert "uma@example.com is confirmed (since " in seen
    assert "Send me a new confirmation link" not in seen


@pytest.mark.django_db
def test_past_the_mailboxs_limit_of_links_the_page_says_so(settings, make_user):
    settings.EMAIL_CONFIRMATION_LIMIT = "2/hour"
    uma = make_user("uma", confirmed=False)
    client = logged_in("uma")
    assert [post(client, action="confirmation").status_code for _ in range(2)] == [302, 302]

    answer = post(client, action="confirmation")

    assert answer.status_code == 429
    assert (
        "No link sent: uma@example.com already had 2 confirmation links per hour. "
        "Use the last link you received, or try again later." in text(answer.text)
    )
    assert Notification.objects.filter(recipient_id=uma.pk, event="confirm_email").count() == 2


@pytest.mark.django_db
def test_no_link_for_a_confirmed_address_nor_while_all_email_is_off(make_user):
    adam = make_user("adam")
    client = logged_in("adam")
    answer = post(client, action="confirmation")
    assert answer.status_code == 302
    assert "adam@example.com is already confirmed." in text(client.get(PAGE).text)

    uma = make_user("uma", confirmed=False)
    profiles.update(uma.pk, email_off=True)
    client = logged_in("uma")
    answer = post(client, action="confirmation")
    assert answer.status_code == 400
    assert "All email is off: turn it on first" in text(answer.text)
    assert not Notification.objects.filter(recipient_id__in=[adam.pk, uma.pk]).exists()

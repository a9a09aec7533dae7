"""Every email can stop every email, and nobody gets one they no longer take: end to end, through
real workers into a real SMTP inbox.

- every kind of email (a chat's admin email, a digest, a confirmation, an invitation) carries
  the RFC 8058 one-click headers; a chat's admin email links to that chat, the others to all
  email, as the page behind each link shows;
- the one-click POST of a digest's or an invitation's link stops all email, and the settings
  page turns it back on;
- an email queued before its recipient was deactivated, turned all email off or had their
  address changed is not sent: its row ends cancelled with the reason (not failed: no failure
  is counted);
- an address changed in the admin is sent a confirmation link and nothing else until it is
  confirmed.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts import profiles
from accounts.models import AddPolicy
from chatplatform.celery import app as celery_app
from chats import services
from chats.emails import personal
from chats.models import Notification, Role
from chats.tasks import build_email_digests_task
from core import outbox
from core.outbox import OutboxStatus

from .support import all_done
from .test_settings_page import PAGE, post, text
from .test_unsubscribe import ONE_CLICK, PUBLIC, buttons, csrf_from, logged_in

User = get_user_model()
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def site(settings, redis_service) -> None:
    """The site at PUBLIC for the bodies written here (the worker's headers: `email_worker`),
    no cap unless a test sets one, and no task of an earlier test left on the broker."""
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.EMAIL_RECIPIENT_LIMIT = ""
    celery_app.control.purge()


def mails_to(smtp, address: str, after: set[str] = frozenset()) -> list:
    return [m for m in smtp.inbox.messages() if m.envelope_to == [address] and m.name not in after]


def link_of(mail) -> str:
    """The path of the email's List-Unsubscribe link, checked to be a one-click one."""
    assert mail.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click", mail.subject
    link = re.fullmatch(r"<https://chat\.example\.test(/email/unsubscribe/\S+/)>",
                        mail.header("List-Unsubscribe"))  # fmt: skip
    assert link, mail.header("List-Unsubscribe")
    return link[1]


def choices(path: str) -> set[str]:
    """The scopes the unsubscribe page offers (a GET, which changes nothing)."""
    page = Client().get(path)
    assert page.status_code == 200
    return set(buttons(page.text))


def chat_with_admins(owner: User, title: str, *admins: User):
    chat = services.create_chat(title=title, creator_id=owner.pk)
    for admin in admins:
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    return chat


def join(chat, user: User) -> None:
    services.add_member(chat_id=chat.pk, actor_id=chat.created_by_id, user_id=user.pk)


def digest_for(settings, chat, newcomers: list[User]) -> None:
    """With a cap of one email an hour, the newcomers' joins email the chat's admins once and
    hold the rest; beat's digest job then folds those into one digest per admin (the cap
    lifted, so that it goes at once)."""
    settings.EMAIL_RECIPIENT_LIMIT = "1/hour"
    for user in newcomers:
        join(chat, user)
    settings.EMAIL_RECIPIENT_LIMIT = ""
    assert build_email_digests_task.apply().get() >= 1


# --- the headers ---------------------------------------------------------------------------------


def test_every_kind_of_email_carries_a_one_click_link_of_its_scope(
    settings, smtp, email_worker, make_user
):
    olga, owen, adam, dora, nina = map(make_user, ["olga", "owen", "adam", "dora", "nina"])
    uma = make_user("uma", confirmed=False)
    ivy = make_user("ivy", who_can_add=AddPolicy.NOBODY)
    design = chat_with_admins(olga, "Design", adam)
    ops = chat_with_admins(owen, "Ops", dora)

    join(design, nina)  # an admin email to adam
    assert personal.request_confirmation(user_id=uma.pk)  # a confirmation to uma
    services.add_or_invite(chat_id=design.pk, actor_id=olga.pk, user_id=ivy.pk)  # invites ivy
    digest_for(settings, ops, [make_user("p1"), make_user("p2"), make_user("p3")])  # dora's
    all_done()

    [admin_email] = mails_to(smtp, "adam@example.com")
    [confirmation] = mails_to(smtp, "uma@example.com")
    [invitation] = mails_to(smtp, "ivy@example.com")
    dora_join, digest = sorted(
        mails_to(smtp, "dora@example.com"), key=lambda m: "more" in m.subject
    )
    assert admin_email.subject == "[Design] nina joined the chat"
    assert confirmation.subject == "Confirm your email address"
    assert invitation.subject == "[Design] olga invited you to the chat"
    assert dora_join.subject == "[Ops] p1 joined the chat"
    assert digest.subject == "2 more chat notifications in one email"

    for mail in (admin_email, dora_join):  # about one chat: that chat, or all email
        assert choices(link_of(mail)) == {"chat", "all"}, mail.subject
    for mail in (confirmation, invitation, digest):  # about no one chat: all email
        assert choices(link_of(mail)) == {"all"}, mail.subject
    assert "stop all email from Chat Platform" in digest.text
    assert "stop all email from Chat Platform" in digest.html
    assert f"{PUBLIC}/settings/email/" in digest.text


# --- all email off, and on again -----------------------------------------------------------------


@pytest.mark.parametrize("source", ["digest", "invitation"])
def test_one_click_on_a_chat_less_email_stops_all_email_until_the_settings_page(
    settings, smtp, email_worker, make_user, source
):
    olga, owen, adam, bea = map(make_user, ["olga", "owen", "adam", "bea"])
    design = chat_with_admins(olga, "Design", adam, bea)
    ops = chat_with_admins(owen, "Ops", adam)
    if source == "digest":
        digest_for(settings, design, [make_user("p1"), make_user("p2")])
        subject = "2 more chat notifications in one email"  # bea's join, p1, p2
    else:
        profiles.update(adam.pk, who_can_add=AddPolicy.NOBODY)
        sam = make_user("sam")
        party = services.create_chat(title="Party", creator_id=sam.pk)
        services.add_or_invite(chat_id=party.pk, actor_id=sam.pk, user_id=adam.pk)
        subject = "[Party] sam invited you to the chat"
    all_done()
    [mail] = [m for m in mails_to(smtp, "adam@example.com") if m.subject == subject]

    # The mail client's button: no session, no CSRF token.
    clicked = Client(enforce_csrf_checks=True).post(link_of(mail), ONE_CLICK)

    assert clicked.status_code == 200
    assert "no more email from Chat Platform" in clicked.text
    before = set(smtp.inbox.names())
    join(design, make_user("mona"))  # bea's email says the worker went through these
    join(ops, make_user("paul"))
    all_done()
    assert [m.subject for m in mails_to(smtp, "bea@example.com", before)] == [
        "[Design] mona joined the chat"
    ]
    assert mails_to(smtp, "adam@example.com", before) == []

    client = logged_in("adam")
    assert "All email from Chat Platform is off" in text(client.get(PAGE).text)
    assert post(client, action="all_email", email="on").status_code == 302
    join(ops, make_user("quinn"))
    all_done()
    assert [m.subject for m in mails_to(smtp, "adam@example.com", before)] == [
        "[Ops] quinn joined the chat"
    ]


# --- queued, then no longer wanted ---------------------------------------------------------------


def test_an_email_queued_before_its_recipient_stopped_taking_email_is_cancelled_with_the_reason(
    smtp, start_worker, make_user
):
    """No worker while the join is recorded (its tasks wait on the broker); then one admin is
    deactivated, one turns all email off, one's address is changed; then the worker starts."""
    olga, adam, bea, carl, dora = map(make_user, ["olga", "adam", "bea", "carl", "dora"])
    design = chat_with_admins(olga, "Design", adam, bea, carl, dora)
    celery_app.control.purge()
    Notification.objects.all().delete()  # the emails about the admins' own joins
    join(design, make_user("nina"))
    rows = {n.recipient_id: n.pk for n in Notification.objects.all()}
    assert set(rows) == {adam.pk, bea.pk, carl.pk, dora.pk}

    User.objects.filter(pk=adam.pk).update(is_active=False)
    profiles.update(bea.pk, email_off=True)
    User.objects.filter(pk=carl.pk).update(email="carl.new@example.com")
    start_worker()
    all_done()

    assert [(m.envelope_to, m.subject) for m in smtp.inbox.messages()] == [
        (["dora@example.com"], "[Design] nina joined the chat")
    ]
    ends = {
        user: Notification.objects.filter(pk=rows[user.pk])
        .values_list("status", "attempts", "last_error")
        .get()
        for user in (adam, bea, carl, dora)
    }
    cancelled = Notification.CANCELLED
    assert ends == {
        adam: (cancelled, 1, "recipient no longer takes email: deactivated"),
        bea: (cancelled, 1, "recipient no longer takes email: email off"),
        carl: (cancelled, 1, "recipient no longer takes email: address changed"),
        dora: (OutboxStatus.SENT, 1, ""),
    }
    counts = outbox.backlog(Notification)
    assert (counts["cancelled"], counts["failed"], counts["sent"], counts["pending"]) == (
        3,
        0,
        1,
        0,
    )


def test_a_digest_held_for_a_user_since_deactivated_is_not_sent(
    settings, smtp, email_worker, make_user
):
    olga, adam = make_user("olga"), make_user("adam")
    design = chat_with_admins(olga, "Design", adam)
    settings.EMAIL_RECIPIENT_LIMIT = "1/hour"
    for name in ("p1", "p2", "p3"):
        join(design, make_user(name))
    all_done()
    assert [m.subject for m in mails_to(smtp, "adam@example.com")] == [
        "[Design] p1 joined the chat"
    ]

    User.objects.filter(pk=adam.pk).update(is_active=False)
    settings.EMAIL_RECIPIENT_LIMIT = ""
    assert build_email_digests_task.apply().get() == 1
    all_done()

    assert len(mails_to(smtp, "adam@example.com")) == 1
    digest = Notification.objects.get(event="digest")
    assert (digest.status, digest.last_error) == (
        Notification.CANCELLED,
        "recipient no longer takes email: deactivated",
    )


# --- an address changed in the admin -------------------------------------------------------------


class FormFields(HTMLParser):
    """What a browser submits for the form with id `form_id`: its inputs (checked boxes only),
    selected options and text areas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select, self.textarea = form_id, False, None, None
        self.fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio"):
                self.fields.append((a["name"], a.get("value", "")))
            elif "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and "selected" in a:
            self.fields.append((self.select, a.get("value", "")))
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.fields.append((self.textarea, ""))

    def handle_data(self, data: str) -> None:
        if self.textarea:
            name, value = self.fields.pop()
            self.fields.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_of(html: str, form_id: str, **changes: str) -> dict[str, object]:
    parser = FormFields(form_id)
    parser.feed(html)
    data: dict[str, object] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return {**data, **changes}


def test_an_address_changed_in_the_admin_gets_a_link_and_nothing_else_until_confirmed(
    smtp, email_worker, make_user, admin_client
):
    olga, adam, bea = map(make_user, ["olga", "adam", "bea"])
    design = chat_with_admins(olga, "Design", adam, bea)
    all_done()
    before = set(smtp.inbox.names())
    url = f"/admin/auth/user/{adam.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "Who can add" in page and "Email off" in page  # the profile, inline

    saved = admin_client.post(url, form_of(page, "user_form", email="adam.new@example.com"))

    assert saved.status_code == 302, re.findall(r"errorlist.*?</ul>", saved.content.decode())
    page = admin_client.get(saved["Location"]).content.decode()
    assert "A confirmation link was queued for adam.new@example.com." in page
    page = admin_client.get(url).content.decode()
    assert '<div class="readonly">adam@example.com</div>' in page  # confirmed, read-only
    assert 'alt="False"' in page  # "address confirmed": no
    join(design, make_user("mona"))
    all_done()
    [confirmation] = mails_to(smtp, "adam.new@example.com")
    assert confirmation.subject == "Confirm your email address"
    assert choices(link_of(confirmation)) == {"all"}
    assert [m.subject for m in mails_to(smtp, "bea@example.com", before)] == [
        "[Design] mona joined the chat"
    ]
    assert mails_to(smtp, "adam.new@example.com", before) == [confirmation]
    assert mails_to(smtp, "adam@example.com", before) == []

    link = re.search(r"https://chat\.example\.test(/account/confirm/\S+/)", confirmation.text)[1]
    confirm = Client(enforce_csrf_checks=True)
    token = csrf_from(confirm.get(link).text)
    assert "Address confirmed" in confirm.post(link, {"csrfmiddlewaretoken": token}).text
    join(design, make_user("nina"))
    all_done()
    assert [m.subject for m in mails_to(smtp, "adam.new@example.com", before)] == [
        "Confirm your email address",
        "[Design] nina joined the chat",
    ]

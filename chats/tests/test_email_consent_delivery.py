"""Consent read again when a queued email's turn comes (chats.emails.delivery.check_recipient):
each reason a recipient no longer takes email cancels the row at once, with that reason (an
opt-out, not a failure: the failed total does not move), and sends nothing to a real SMTP server;
a confirmation link needs only an account that takes email.

The delivery runs in this process (EMAILS.deliver, what the task calls); the same through a real
worker: test_email_consent.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model

import testing
from accounts import profiles
from accounts.addresses import canonical
from chats.emails import delivery as email_delivery
from chats.models import Notification
from core import outbox

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[testing.SmtpProcess]:
    """One real SMTP server for the module (each test empties its inbox): these tests only
    ever expect nothing, or one email."""
    with testing.SmtpProcess() as server:
        yield server


@pytest.fixture
def smtp(settings, smtp_server: testing.SmtpProcess) -> testing.SmtpProcess:
    smtp_server.inbox.clear()
    smtp_server.send_here(settings)
    return smtp_server


def queued(user: User, event: str = Notification.Event.MEMBER_ADDED) -> Notification:
    """An email to `user` as recorded before anything below changed."""
    return Notification.objects.create(
        event=event, chat_id=1 if event == "member_added" else None, recipient_id=user.pk,
        recipient_email=user.email, recipient_key=canonical(user.email),
        subject="[Ops] nina joined the chat", body_text="b", body_html="<p>b</p>",
    )  # fmt: skip


def deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def email_off(user: User) -> None:
    profiles.update(user.pk, email_off=True)


def new_address(user: User) -> None:
    User.objects.filter(pk=user.pk).update(email="adam.new@example.com")


def unconfirm(user: User) -> None:
    profiles.update(user.pk, confirmed_email="")


def delete(user: User) -> None:
    user.delete()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (deactivate, "deactivated"),
        (email_off, "email off"),
        (new_address, "address changed"),
        (unconfirm, "address not confirmed"),
        (delete, "account deleted"),
    ],
)
@pytest.mark.parametrize("event", ["member_added", "digest", "invitation"])
def test_a_recipient_who_no_longer_takes_email_cancels_the_row_at_once(
    smtp, make_user, change: Callable[[User], None], reason: str, event: str
):
    adam = make_user("adam")
    row = queued(adam, event)
    change(adam)

    assert email_delivery.EMAILS.deliver(row.pk) == "cancelled"  # not retried: the task succeeds
    assert email_delivery.EMAILS.deliver(row.pk) == "skipped"

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Notification.CANCELLED, 1)
    assert row.last_error == f"recipient no longer takes email: {reason}"
    assert smtp.inbox.count() == 0
    counts = outbox.backlog(Notification)
    assert (counts["cancelled"], counts["failed"]) == (1, 0)


def test_a_confirmation_link_goes_to_an_unconfirmed_address_but_not_past_email_off(smtp, make_user):
    uma = make_user("uma", confirmed=False)
    first, second = queued(uma, "confirm_email"), queued(uma, "confirm_email")

    assert email_delivery.EMAILS.deliver(first.pk) == "sent"
    email_off(uma)
    assert email_delivery.EMAILS.deliver(second.pk) == "cancelled"

    assert [m.envelope_to for m in smtp.inbox.messages()] == [["uma@example.com"]]
    second.refresh_from_db()
    assert (second.status, second.last_error) == (
        Notification.CANCELLED,
        "recipient no longer takes email: email off",
    )


def test_a_recipient_who_still_takes_email_gets_it(smtp, make_user):
    adam = make_user("adam")
    row = queued(adam)
    profiles.update(adam.pk, who_can_add="nobody")  # not about email

    assert email_delivery.EMAILS.deliver(row.pk) == "sent"

    [mail] = smtp.inbox.messages()
    assert mail.envelope_to == ["adam@example.com"]

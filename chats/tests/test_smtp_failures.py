"""How the email code classifies each answer of a real SMTP server (`testing.SmtpProcess`): a
refused recipient is permanent, a silent or absent server transient, and the row's attempt count
bounds the retries.
"""

from __future__ import annotations

import smtplib

import pytest
from django.core.mail import get_connection

import testing
from chats.emails import delivery as email_delivery
from chats.models import Notification
from core.delivery import DeliveryGaveUp, Failure, TransientDeliveryError


def an_email(pk: int = 7, to: str = "adam@example.com") -> Notification:
    return Notification(
        pk=pk,
        chat_id=3,
        subject="[Design review] nina joined the chat",
        recipient_id=2,
        recipient_email=to,
        body_text='nina was added to the chat "Design review" by alex.',
        body_html="<p><strong>nina</strong> was added by alex.</p>",
    )


@pytest.fixture(autouse=True)
def smtp_settings(settings) -> None:
    """Django's SMTP backend, on loopback without a login, whatever a developer's `.env` says."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def send(port: int, notification: Notification, timeout: float = 2) -> None:
    connection = get_connection(port=port, timeout=timeout)
    email_delivery.build_email(notification, connection).send()


def test_a_refused_recipient_is_a_permanent_failure():
    with testing.SmtpProcess(refuse=("refused@example.com",)) as server:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(server.port, an_email(to="refused@example.com"))
        assert email_delivery.classify(refused.value) is Failure.PERMANENT
        assert email_delivery.describe(refused.value) == (
            "SMTPRecipientsRefused: 550 5.1.1 <refused@example.com>: Recipient address rejected"
        )


def test_a_silent_or_absent_server_is_a_transient_failure():
    with testing.SmtpProcess(silent=True) as silent:
        with pytest.raises(OSError) as hung:
            send(silent.port, an_email(), timeout=0.5)
        assert "timed out" in str(hung.value)
        assert email_delivery.classify(hung.value) is Failure.TRANSIENT
    with pytest.raises(OSError) as refused:
        send(silent.port, an_email())  # stopped: connection refused
    assert email_delivery.classify(refused.value) is Failure.TRANSIENT


@pytest.mark.django_db
def test_the_rows_attempt_count_bounds_retries_even_across_sweeper_requeues(settings):
    """A re-queued task starts its own retry count at 0; the row's count still ends it."""
    settings.EMAIL_PORT = testing.free_port()  # nobody there
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    row = Notification.objects.create(
        event="member_added", chat_id=1, recipient_id=1, recipient_email="adam@example.com",
        subject="s", body_text="b", body_html="<p>b</p>", attempts=1,
    )  # fmt: skip
    with pytest.raises(TransientDeliveryError):
        email_delivery.EMAILS.deliver(row.pk)  # attempt 2 of 3: released for a retry
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 2)
    with pytest.raises(DeliveryGaveUp):  # not retried: the task fails, visibly
        email_delivery.EMAILS.deliver(row.pk)  # attempt 3 of 3: the last one
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "refused" in row.last_error.lower() or "connect" in row.last_error.lower()

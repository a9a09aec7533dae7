"""Membership emails, the delivery side: send one recorded `Notification` at most once.

`deliver_notification` classifies SMTP failures: transient ones are retried with backoff by the
task, permanent ones (a refused recipient, a 5xx) are recorded as failed and never retried. The
row's attempt count alone bounds the retries: the last transient failure raises `EmailGaveUp`.
"""

import contextlib
import logging
import smtplib
import socket

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from core import outbox
from core.validators import one_line

from . import unsubscribe
from .models import Notification

logger = logging.getLogger(__name__)


class TransientEmailError(Exception):
    """Worth retrying: the server was down, slow, or answered 4xx."""


class PermanentEmailError(Exception):
    """Not worth retrying: the server refused the recipient or the message (5xx)."""


class EmailGaveUp(Exception):
    """Retries exhausted: the row is failed; the task fails so Flower and the failure metrics see
    it (not in the task's `autoretry_for`: a retry would only find the failed row and succeed)."""


def message_id(notification_id: int) -> str:
    """Stable per notification, so a duplicate delivery would be visible in any inbox."""
    return f"<notification-{notification_id}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


def build_email(notification: Notification, connection=None) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient_email],
        headers={
            "Message-ID": message_id(notification.pk),
            **unsubscribe.list_headers(notification.recipient_id, notification.chat_id),
        },
        connection=connection,
    )
    email.attach_alternative(notification.body_html, "text/html")
    return email


def classify(exc: Exception) -> type[Exception]:
    """Which kind of failure an SMTP exception is."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return (
            TransientEmailError
            if codes and all(400 <= c < 500 for c in codes)
            else (PermanentEmailError)
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return TransientEmailError if 400 <= exc.smtp_code < 500 else PermanentEmailError
    if isinstance(exc, (OSError, socket.timeout, smtplib.SMTPException, SoftTimeLimitExceeded)):
        return TransientEmailError
    return PermanentEmailError


def describe(exc: Exception) -> str:
    """The SMTP answer as a person reads it ("550 5.1.1 <a@b>: ..."), for the admin page."""

    def text(message: bytes | str) -> str:
        return message.decode(errors="replace") if isinstance(message, bytes) else str(message)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{code} {text(msg)}" for code, msg in exc.recipients.values())
        return f"{type(exc).__name__}: {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def deliver_notification(notification_id: int) -> str:
    """Send one notification at most once; returns what happened, for the task's log."""
    lease = settings.EMAIL_TIMEOUT * 3 + 30
    notification = outbox.claim(Notification, notification_id, lease_seconds=lease)
    if notification is None:
        return "skipped"
    # Rows recorded before subjects were kept on one line would otherwise fail on every attempt.
    notification.subject = one_line(notification.subject)
    # The row counts every attempt, the sweeper's re-queues included (a task's own count restarts
    # with each re-queue), so it alone decides which attempt is the last.
    final_attempt = notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
    connection = None
    try:
        # Inside the try: a backend that refuses its settings (e.g. both EMAIL_USE_TLS and
        # EMAIL_USE_SSL) raises here, and the row must not stay `sending` for the sweeper.
        connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
        connection.open()
        build_email(notification, connection=connection).send()  # returns once DATA is accepted
    except Exception as exc:
        if connection is not None:
            _close_quietly(connection)
        kind = classify(exc)
        error = describe(exc)
        if kind is PermanentEmailError or final_attempt:
            outbox.fail(notification, error)
            logger.warning("notification %s failed: %s", notification_id, error)
            if kind is PermanentEmailError:
                return "failed"
            raise EmailGaveUp(error) from exc
        outbox.release(notification, error)
        raise kind(error) from exc
    # Recorded before QUIT: a worker killed between the server's "250 accepted" and this update
    # sends the email again when the claim expires (the same Message-ID shows it); keep it short.
    try:
        outbox.done(notification)
    finally:
        _close_quietly(connection)
    return "sent"


def _close_quietly(connection) -> None:
    """QUIT after the message was accepted or refused; a failure here changes nothing."""
    with contextlib.suppress(Exception):
        connection.close()

"""Membership emails, the delivery side: how one recorded `Notification` is sent over SMTP.

The driver (core.delivery) claims the row, calls `send` and records the outcome; this module
says what sending is and how SMTP failures count: a refused recipient or a 5xx is permanent
(recorded as failed, never retried), a 4xx, a timeout or a dropped connection is transient
(retried with backoff until NOTIFICATION_MAX_ATTEMPTS). A recipient who no longer takes email
when the row's turn comes (deactivated, all email off, address changed or not confirmed, account
deleted) is no failure: the row waited in the queue, held for a digest, or for SMTP to come back,
consent is read again at the last moment, and the row ends `cancelled` with the reason, never
retried and never counted as failed (so no failure alert fires for an opt-out).
"""

import contextlib
import smtplib
import socket

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from opentelemetry.trace import SpanKind

from accounts import profiles
from chats.models import Notification
from core import tracing
from core.delivery import Cancelled, Delivery, Failure, describe_exception
from core.validators import one_line

from . import unsubscribe

User = get_user_model()


class RecipientRefusesEmail(Cancelled):
    """The recipient no longer takes email: the row ends `cancelled` with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"recipient no longer takes email: {self.reason}"


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
            **unsubscribe.list_headers(
                notification.recipient_id, notification.chat_id, notification.event
            ),
        },
        connection=connection,
    )
    email.attach_alternative(notification.body_html, "text/html")
    return email


def classify(exc: Exception) -> Failure:
    """Transient: the server was down, slow, or answered 4xx. Permanent: it refused the
    recipient or the message (5xx), or the message itself cannot be sent. (A recipient who no
    longer takes email is no failure: the driver cancels the row before asking.)"""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return (
            Failure.TRANSIENT if codes and all(400 <= c < 500 for c in codes) else Failure.PERMANENT
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return Failure.TRANSIENT if 400 <= exc.smtp_code < 500 else Failure.PERMANENT
    if isinstance(exc, (OSError, socket.timeout, smtplib.SMTPException, SoftTimeLimitExceeded)):
        return Failure.TRANSIENT
    return Failure.PERMANENT


def describe(exc: Exception) -> str:
    """The SMTP answer as a person reads it ("550 5.1.1 <a@b>: ..."), for the admin page."""

    def text(message: bytes | str) -> str:
        return message.decode(errors="replace") if isinstance(message, bytes) else str(message)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{code} {text(msg)}" for code, msg in exc.recipients.values())
        return f"{type(exc).__name__}: {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {text(exc.smtp_error)}"
    return describe_exception(exc)


def check_recipient(notification: Notification) -> None:
    """Raise RecipientRefusesEmail unless the notification's user still takes it, at the address
    it was rendered for: a confirmation link needs only an active account with email on
    (profiles.may_email); every other email needs the address confirmed too."""
    consent = (
        profiles.may_email()
        if notification.event == Notification.Event.CONFIRM_EMAIL
        else profiles.receives_email()
    )
    recipient = User.objects.filter(pk=notification.recipient_id)
    if recipient.filter(consent, email=notification.recipient_email).exists():
        return
    user = recipient.first()
    if user is None:
        raise RecipientRefusesEmail("account deleted")
    if not user.is_active:
        raise RecipientRefusesEmail("deactivated")
    profile = profiles.profile_of(user.pk)
    if profile.email_off:
        raise RecipientRefusesEmail("email off")
    if user.email != notification.recipient_email:
        raise RecipientRefusesEmail("address changed")
    raise RecipientRefusesEmail("address not confirmed")


def send(notification: Notification, after: contextlib.ExitStack) -> None:
    """Send one claimed notification; returns once the server accepted DATA. The connection's
    QUIT waits on `after`, so the row is recorded sent before it, not after."""
    # Rows recorded before subjects were kept on one line would otherwise fail on every attempt.
    notification.subject = one_line(notification.subject)
    # A backend that refuses its settings (e.g. both EMAIL_USE_TLS and EMAIL_USE_SSL) raises
    # here, inside the driver's try, so the row does not stay `sending` for the sweeper.
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    after.callback(_close_quietly, connection)
    with tracing.span("smtp send", _smtp_attributes(), kind=SpanKind.CLIENT) as span:
        try:
            connection.open()
            # Consent is read as late as it can be, with the connection open: whatever changed
            # while the row waited (queued, held, retried) counts, up to the moment before DATA.
            check_recipient(notification)
            _record_reply(connection, span)
            build_email(notification, connection=connection).send()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            span.set_attribute("smtp.reply_code", codes[0] if codes else 0)
            raise
        except smtplib.SMTPResponseException as exc:
            span.set_attribute("smtp.reply_code", exc.smtp_code)
            raise


def _smtp_attributes() -> dict[str, str | int]:
    """Where the conversation goes: the OpenTelemetry names for a server."""
    return {"server.address": settings.EMAIL_HOST, "server.port": int(settings.EMAIL_PORT)}


def _record_reply(connection, span) -> None:
    """Put the server's reply to DATA (250, "queued as ...") on the span: smtplib's sendmail
    keeps it to itself, so this connection's `data` reports it on the way. Nothing with a
    backend that has no SMTP connection (the locmem and console backends of development)."""
    smtp = getattr(connection, "connection", None)
    data = getattr(smtp, "data", None)
    if data is None or not span.is_recording():
        return

    def data_with_reply(message):
        code, reply = data(message)
        span.set_attribute("smtp.reply_code", code)
        span.set_attribute("smtp.reply", reply.decode(errors="replace")[:200])
        return code, reply

    smtp.data = data_with_reply


def _close_quietly(connection) -> None:
    """QUIT after the message was accepted or refused; a failure here changes nothing."""
    with contextlib.suppress(Exception):
        connection.close()


EMAILS = Delivery(
    model=Notification,
    send=send,
    classify=classify,
    describe=describe,
    timeout_setting="EMAIL_TIMEOUT",
    max_attempts_setting="NOTIFICATION_MAX_ATTEMPTS",
    done_result="sent",
    cancelled_status=Notification.CANCELLED,
    trace_attributes=lambda row: {"chat_id": row.chat_id, "notification_event": row.event},
)

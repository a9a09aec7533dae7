"""Membership emails to a chat's admins: rendered with the event, delivered by a Celery task.

`record` writes one `Notification` per recipient inside the caller's transaction; the task calls
`deliver_notification`, which classifies SMTP failures: transient ones are retried with backoff,
permanent ones (a refused recipient, a 5xx) are recorded as failed and never retried. The row's
attempt count alone bounds the retries: the last transient failure raises `EmailGaveUp`.
"""

import contextlib
import logging
import smtplib
import socket

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from core import outbox

from . import selectors
from .models import Chat, Notification

logger = logging.getLogger(__name__)
User = get_user_model()

SUBJECTS = {
    Notification.Event.MEMBER_ADDED: "[{chat}] {subject} joined the chat",
    Notification.Event.MEMBER_REMOVED: "[{chat}] {subject} left the chat",
    Notification.Event.CHAT_DELETED: "[{chat}] the chat was deleted",
}


class TransientEmailError(Exception):
    """Worth retrying: the server was down, slow, or answered 4xx."""


class PermanentEmailError(Exception):
    """Not worth retrying: the server refused the recipient or the message (5xx)."""


class EmailGaveUp(Exception):
    """Retries exhausted: the row is failed; the task fails so Flower and the failure metrics see
    it (not in the task's `autoretry_for`: a retry would only find the failed row and succeed)."""


def record(event: str, *, chat: Chat, actor_id: int | None, subject_user: int | None) -> list[int]:
    """Write one rendered email per admin to notify; call inside the change's transaction."""
    recipients = selectors.admins_to_notify(chat.pk, exclude_user_id=actor_id)
    if not recipients:
        return []
    names = dict(User.objects.filter(pk__in=[actor_id, subject_user]).values_list("pk", "username"))
    context = {
        "chat_title": chat.title,
        "chat_id": chat.pk,
        "event": event,
        "actor": names.get(actor_id, "someone"),
        "subject": names.get(subject_user, "someone"),
    }
    subject = SUBJECTS[event].format(chat=chat.title, subject=context["subject"])
    rows = []
    for membership in recipients:
        ctx = {**context, "recipient": membership.user.username}
        rows.append(
            Notification(
                event=event,
                chat_id=chat.pk,
                recipient_id=membership.user_id,
                recipient_email=membership.user.email,
                subject=subject,
                body_text=render_to_string(f"chats/email/{event}.txt", ctx),
                body_html=render_to_string(f"chats/email/{event}.html", ctx),
            )
        )
    return [n.pk for n in Notification.objects.bulk_create(rows)]


def enqueue_after_commit(ids: list[int]) -> None:
    from .tasks import send_admin_notification_task

    outbox.enqueue_after_commit(send_admin_notification_task, ids)


def message_id(notification_id: int) -> str:
    """Stable per notification, so a duplicate delivery would be visible in any inbox."""
    return f"<notification-{notification_id}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>"


def build_email(notification: Notification, connection=None) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=notification.subject,
        body=notification.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient_email],
        headers={"Message-ID": message_id(notification.pk)},
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


def requeue_stale() -> int:
    from .tasks import send_admin_notification_task

    return outbox.requeue_stale(Notification, send_admin_notification_task)

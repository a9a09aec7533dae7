"""Membership emails to a chat's admins, the recording side: one rendered `Notification` per
recipient, written in the caller's transaction and handed to the `email` queue after commit
(core.delivery.record). Sending (SMTP, failure classification) is `chats.emails.delivery`.
"""

from django.contrib.auth import get_user_model
from django.template.loader import render_to_string

from accounts.addresses import canonical
from chats import selectors
from chats.models import Chat, Notification
from core import delivery, tracing
from core.validators import one_line

from . import digest
from .tasks import send_admin_notification_task

User = get_user_model()

SUBJECTS = {
    Notification.Event.MEMBER_ADDED: "[{chat}] {subject} joined the chat",
    Notification.Event.MEMBER_REMOVED: "[{chat}] {subject} left the chat",
    Notification.Event.CHAT_DELETED: "[{chat}] the chat was deleted",
}


def record(
    event: str, *, chat: Chat, actor_id: int | None, subject_user: int | None
) -> list[Notification]:
    """Write one rendered email per admin to notify, inside the change's transaction; each is
    queued once it commits, except those over a recipient's cap: held for a digest instead.
    Returns the rows written."""
    tracing.annotate(chat_id=chat.pk, subject_user_id=subject_user)
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
    rows = [
        Notification(
            event=event,
            chat_id=chat.pk,
            recipient_id=membership.user_id,
            recipient_email=membership.user.email,
            recipient_key=canonical(membership.user.email),
            **rendered(event, {**context, "recipient": membership.user.username}),
        )
        for membership in recipients
    ]
    digest.assign_statuses(rows)
    return delivery.record(send_admin_notification_task, rows)


def rendered(event: str, context: dict[str, object]) -> dict[str, str]:
    """The subject and bodies of one email (`record`'s context with the recipient's name), so
    the demo's past emails (chats.demo.emails) read as the ones a change sends."""
    # One line: a newline in a title would make Django refuse the header, every time.
    subject = SUBJECTS[event].format(chat=context["chat_title"], subject=context["subject"])
    return {
        "subject": one_line(subject),
        "body_text": render_to_string(f"chats/email/{event}.txt", context),
        "body_html": render_to_string(f"chats/email/{event}.html", context),
    }

"""Emails to a user about themselves, not to a chat's admins: the confirmation of their address
and an invitation to a chat. Both are Notifications, delivered like every email (claim, retries,
the admin), and both count against the mailbox's cap (digest.COUNTED).

A confirmation goes to an address not yet confirmed (the only email that may), at most
EMAIL_CONFIRMATION_LIMIT per mailbox, so registering a stranger's address again and again sends
it little; it is never held for a digest (a link in a digest would be lost). An invitation goes
only to a user who takes email (accounts.profiles.receives_email), through the cap like any.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil

from accounts import confirmation, profiles
from accounts.addresses import canonical
from chats.models import Invitation, Notification
from core import delivery, signed
from core.validators import one_line

from . import digest
from .tasks import send_admin_notification_task

User = get_user_model()
INVITATION_SALT = "chats.invitation"


def record_confirmation(user: User) -> Notification | None:
    """Queue the user's confirmation email after commit, in the caller's transaction; None when
    there is nothing to confirm, the user takes no email, or the mailbox had its limit."""
    if not user.email or profiles.profile_of(user.pk).is_confirmed:
        return None
    if not User.objects.filter(profiles.may_email(), pk=user.pk).exists():
        return None
    key = canonical(user.email)
    limit = digest.parse_limit(settings.EMAIL_CONFIRMATION_LIMIT)
    if limit is not None:
        count, seconds = limit
        digest.lock_mailboxes([key])
        since = timezone.now() - timedelta(seconds=seconds)
        sent = digest.to_mailbox(key).filter(
            event=Notification.Event.CONFIRM_EMAIL, created_at__gte=since
        )
        if sent.count() >= count:
            return None
    now = timezone.now()
    context = {
        "recipient": user.username,
        "confirm_url": confirmation.confirmation_url(user.pk, user.email),
        "valid_for": timeuntil(now + timedelta(seconds=settings.EMAIL_CONFIRMATION_MAX_AGE), now),
    }
    row = _email(
        Notification.Event.CONFIRM_EMAIL, user, None, "Confirm your email address", context
    )
    return delivery.record(send_admin_notification_task, [row])[0]


def request_confirmation(*, user_id: int) -> bool:
    """Send the user a new confirmation link, unless confirmed already or their mailbox had its
    EMAIL_CONFIRMATION_LIMIT; returns whether one was queued. The user is locked, so two
    clicks count against the limit in turn."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        return record_confirmation(user) is not None


def record_invitation(invitation: Invitation) -> Notification | None:
    """Queue the invitee's email about `invitation` after commit (held past their cap, like
    any); None when they take no email: the chat page still shows the invitation."""
    user = User.objects.filter(profiles.receives_email(), pk=invitation.user_id).first()
    if user is None:
        return None
    chat = invitation.chat
    inviter = invitation.invited_by.username if invitation.invited_by else "someone"
    context = {
        "recipient": user.username,
        "actor": inviter,
        "chat_title": chat.title,
        "role": invitation.get_role_display().lower(),
        "answer_url": settings.PUBLIC_BASE_URL
        + reverse("invitation-answer", args=[invitation_token(invitation)]),
        "settings_url": settings.PUBLIC_BASE_URL + reverse("email-settings"),
    }
    subject = f"[{chat.title}] {inviter} invited you to the chat"
    row = _email(Notification.Event.INVITATION, user, chat.pk, subject, context)
    digest.assign_statuses([row])
    return delivery.record(send_admin_notification_task, [row])[0]


def _email(
    event: str, user: User, chat_id: int | None, subject: str, context: dict
) -> Notification:
    return Notification(
        event=event,
        chat_id=chat_id,
        recipient_id=user.pk,
        recipient_email=user.email,
        recipient_key=canonical(user.email),
        subject=one_line(subject),
        body_text=render_to_string(f"chats/email/{event}.txt", context),
        body_html=render_to_string(f"chats/email/{event}.html", context),
    )


def invitation_token(invitation: Invitation) -> str:
    """The invitation's link, for its invitee only, for INVITATION_MAX_AGE."""
    return signed.sign(INVITATION_SALT, [invitation.pk, invitation.user_id])


def parse_invitation_token(token: str) -> tuple[int, int] | None:
    """(invitation_id, user_id), or None when not ours for this purpose, or expired."""
    values = signed.unsign(INVITATION_SALT, token, settings.INVITATION_MAX_AGE)
    if values is None or len(values) != 2:
        return None
    return int(values[0]), int(values[1])

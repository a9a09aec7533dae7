"""Who gets which email: each admin's switch per chat, the switch for all email, and the
one-click unsubscribe that turns either off."""

from django.contrib.auth import get_user_model

from accounts import profiles
from chats import selectors
from chats.models import Membership

User = get_user_model()


def set_email_notifications(*, chat_id: int, user_id: int, enabled: bool | None) -> Membership:
    """Only owners and admins get membership emails, so only they have the switch."""
    membership = selectors.require_admin(chat_id, user_id)
    if enabled is not None:
        membership.email_notifications = enabled
        membership.save(update_fields=["email_notifications"])
    return membership


def set_all_email(*, user_id: int, enabled: bool) -> None:
    """All email from the platform on or off (accounts.models.Profile.email_off); off wins over
    every chat's switch, and on again restores them as they were."""
    profiles.update(user_id, email_off=not enabled)


def unsubscribe_from_emails(*, chat_id: int, user_id: int) -> None:
    """The one-click unsubscribe of one chat: no role check (a former admin's link must still
    answer), and idempotent; nothing to turn off when the user is no longer in the chat."""
    Membership.objects.filter(chat_id=chat_id, user_id=user_id).update(email_notifications=False)


def unsubscribe_from_all(*, user_id: int) -> None:
    """The one-click unsubscribe of all email: idempotent; nothing to do for a deleted account
    (a profile needs its user)."""
    if User.objects.filter(pk=user_id).exists():
        set_all_email(user_id=user_id, enabled=False)

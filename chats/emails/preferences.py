"""Who gets the admin emails: each admin's switch per chat, and the one-click unsubscribe."""

from chats import selectors
from chats.models import Membership


def set_email_notifications(*, chat_id: int, user_id: int, enabled: bool | None) -> Membership:
    """Only owners and admins get membership emails, so only they have the switch."""
    membership = selectors.require_admin(chat_id, user_id)
    if enabled is not None:
        membership.email_notifications = enabled
        membership.save(update_fields=["email_notifications"])
    return membership


def unsubscribe_from_emails(*, chat_id: int, user_id: int) -> None:
    """The one-click unsubscribe: no role check (a former admin's link must still answer), and
    idempotent; nothing to turn off when the user is no longer in the chat."""
    Membership.objects.filter(chat_id=chat_id, user_id=user_id).update(email_notifications=False)

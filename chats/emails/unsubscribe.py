"""One-click unsubscribe (RFC 8058) for every email, in two scopes: one chat, or all email.

Every email carries a link. An admin email about a chat (a join, a leave, a deletion) links to
"this chat"; an email that is not about one chat's membership (a digest, which spans chats, a
confirmation, an invitation) links to "all email from this platform". The unsubscribe page also
offers the other choice (pages.unsubscribe_page).

The link carries a token, [recipient_id, chat_id], signed with the secret key and a salt of its
own, so it can neither be forged nor turned into another recipient's or another chat's link, and
it needs no session: mail clients POST to it without cookies. A chat_id of 0 (no chat has it:
ids start at 1) is the all-email scope, so the links already in inboxes, [recipient_id,
chat_id], keep their meaning. No expiry: a link in an old email must still work.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from chats.models import Notification

SALT = "chats.unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
ALL_EMAIL = 0  # the token's chat_id for "all email from this platform"

# The emails about one chat's membership, sent to its admins: their link stops that chat's.
CHAT_EVENTS = frozenset(
    {
        Notification.Event.MEMBER_ADDED,
        Notification.Event.MEMBER_REMOVED,
        Notification.Event.CHAT_DELETED,
    }
)


def make_token(recipient_id: int, chat_id: int | None) -> str:
    """The token of one recipient's link: for one chat, or (chat_id None) for all email."""
    return signing.Signer(salt=SALT).sign_object([int(recipient_id), int(chat_id or ALL_EMAIL)])


def parse_token(token: str) -> tuple[int, int | None] | None:
    """(recipient_id, chat_id), chat_id None for all email; None when the token was not signed
    by us for this purpose."""
    try:
        recipient_id, chat_id = signing.Signer(salt=SALT).unsign_object(token)
        recipient_id, chat_id = int(recipient_id), int(chat_id)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return recipient_id, (None if chat_id == ALL_EMAIL else chat_id)


def unsubscribe_url(recipient_id: int, chat_id: int | None) -> str:
    """Absolute: mail clients open it outside the site, so it starts with PUBLIC_BASE_URL."""
    path = reverse("email-unsubscribe", args=[make_token(recipient_id, chat_id)])
    return settings.PUBLIC_BASE_URL + path


def scope_of(event: str, chat_id: int | None) -> int | None:
    """The chat an email's link stops, or None for all email: only a chat's admin emails are
    about that chat alone (an invitation names a chat, but stopping it means stopping email)."""
    return chat_id if event in CHAT_EVENTS and chat_id else None


def list_headers(recipient_id: int, chat_id: int | None, event: str) -> dict[str, str]:
    """The two headers that make a mail client show an "Unsubscribe" button that POSTs."""
    url = unsubscribe_url(recipient_id, scope_of(event, chat_id))
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}

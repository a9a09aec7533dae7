"""One-click unsubscribe (RFC 8058) for the admin emails, one link per recipient and chat.

The link carries a token signed with the secret key and a salt of its own, so it can neither be
forged nor turned into another recipient's or another chat's link, and it needs no session: mail
clients POST to it without cookies. No expiry: a link in an old email must still work.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "chats.unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"


def make_token(recipient_id: int, chat_id: int) -> str:
    return signing.Signer(salt=SALT).sign_object([int(recipient_id), int(chat_id)])


def parse_token(token: str) -> tuple[int, int] | None:
    """(recipient_id, chat_id), or None when the token was not signed by us for this purpose."""
    try:
        recipient_id, chat_id = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return int(recipient_id), int(chat_id)


def unsubscribe_url(recipient_id: int, chat_id: int) -> str:
    """Absolute: mail clients open it outside the site, so it starts with PUBLIC_BASE_URL."""
    path = reverse("email-unsubscribe", args=[make_token(recipient_id, chat_id)])
    return settings.PUBLIC_BASE_URL + path


def list_headers(recipient_id: int, chat_id: int | None) -> dict[str, str]:
    """The two headers that make a mail client show an "Unsubscribe" button that POSTs; none
    for a digest (no chat: it spans chats, and its body links to the email settings page)."""
    if chat_id is None:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(recipient_id, chat_id)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }

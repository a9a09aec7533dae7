"""Confirming an email address: a signed, expiring link for one user and one address.

The token holds the user's id and the address it was sent to, signed with the secret key and a
salt of its own (a different purpose's token cannot pass for it). It works for
EMAIL_CONFIRMATION_MAX_AGE, and only while that address is still the user's: an address
changed since makes the old link confirm nothing.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from core import signed

from . import profiles

SALT = "accounts.confirm-email"
User = get_user_model()


def make_token(user_id: int, email: str) -> str:
    return signed.sign(SALT, [int(user_id), email])


def parse_token(token: str) -> tuple[int, str] | None:
    """(user_id, email), or None when the token is not ours for this purpose, or expired."""
    values = signed.unsign(SALT, token, settings.EMAIL_CONFIRMATION_MAX_AGE)
    if values is None or len(values) != 2:
        return None
    return int(values[0]), str(values[1])


def confirmation_url(user_id: int, email: str) -> str:
    """Absolute: opened from the email, outside the site."""
    path = reverse("confirm-email", args=[make_token(user_id, email)])
    return settings.PUBLIC_BASE_URL + path


def confirm(token: str) -> User | None:
    """Confirm the token's address if it is still its user's; the user, else None."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    user_id, email = parsed
    user = User.objects.filter(pk=user_id, is_active=True, email=email).first()
    if user is None:
        return None
    profiles.set_confirmed(user.pk, email)
    return user

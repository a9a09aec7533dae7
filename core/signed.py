"""Signed, expiring values for links sent by email (an address's confirmation, an invitation).

Signed with DJANGO_SECRET_KEY (and its fallbacks, so a rotated key keeps links valid) and a
salt per purpose, so one purpose's token never passes for another's.
"""

from django.core import signing


def sign(salt: str, values: list) -> str:
    return signing.TimestampSigner(salt=salt).sign_object(values)


def unsign(salt: str, token: str, max_age: int) -> list | None:
    """The values signed for `salt`, or None when forged, for another purpose, or older than
    `max_age` seconds."""
    try:
        values = signing.TimestampSigner(salt=salt).unsign_object(token, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return values if isinstance(values, list) else None

"""Refuse to run on a placeholder secret: fail closed, naming the variable to set. And compare a
bearer token a client presents with the one configured, the one way every such check does it.

Development runs on the settings' defaults and on `.env.example`'s `change-me`; a
deployment that kept one of them would let anyone forge sessions (DJANGO_SECRET_KEY), publish to
every channel (CENTRIFUGO_HTTP_API_KEY) or sign a subscription token for any chat
(CENTRIFUGO_TOKEN_HMAC_SECRET_KEY). So with DJANGO_DEBUG off, each process checks the secrets it
uses when it starts: the settings the Django ones, `python -m launchers.flower` Flower's, and
docker compose runs `python -m core.secrets NAME...` once before any container that holds one
(compose itself can refuse an empty value, never a wrong one).

    python -m core.secrets DJANGO_SECRET_KEY POSTGRES_PASSWORD   # exit 1 naming each bad one
"""

from __future__ import annotations

import hmac
import os
import sys

from django.core.exceptions import ImproperlyConfigured

# What the settings' development defaults and the lines of `.env.example` contain.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "insecure")
# RFC 7518, section 3.2: an HS256 key at least as long as its hash (PyJWT warns below it). The
# same floor for the other secrets machines hold: scripts/setup.sh writes 64 characters.
MIN_BYTES = {
    "DJANGO_SECRET_KEY": 32,
    "DJANGO_SECRET_KEY_FALLBACKS": 32,  # each of them: keys that still verify what they signed
    "CENTRIFUGO_HTTP_API_KEY": 32,
    "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY": 32,
    "STATS_READ_TOKEN": 32,
}


def is_placeholder(value: str) -> bool:
    """Empty, or one of the values shipped for development (never a secret anyone chose)."""
    lowered = value.strip().lower()
    return not lowered or any(marker in lowered for marker in PLACEHOLDER_MARKERS)


def require_secret(name: str, value: str, *, allow_empty: bool = False) -> None:
    """Raise ImproperlyConfigured naming `name` when `value` is a placeholder or too short.

    `allow_empty`: for optional secrets (an SMTP password), where empty means "none" but a
    placeholder means someone forgot to fill it in. The value itself is never echoed.
    """
    if allow_empty and not value:
        return
    if is_placeholder(value):
        raise ImproperlyConfigured(
            f"{name} must be set to a real secret when DJANGO_DEBUG is off (its default unless"
            " the environment or .env says true): it is empty or a placeholder (change-me, a"
            " development default). scripts/setup.sh writes random ones into .env."
        )
    min_bytes = MIN_BYTES.get(name, 0)
    if len(value.encode()) < min_bytes:
        raise ImproperlyConfigured(
            f"{name} must be at least {min_bytes} bytes long when DJANGO_DEBUG is off (it has"
            f" {len(value.encode())}); e.g. python -c 'import secrets;"
            " print(secrets.token_urlsafe(48))'."
        )


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value (RFC 6750; the scheme in
    any case), or None for no header, another scheme or an empty token."""
    scheme, _, given = authorization.partition(" ")
    given = given.strip()
    return given if scheme.lower() == "bearer" and given else None


def is_secret(given: str, secret: str) -> bool:
    """Whether a presented token is the configured secret, compared in constant time (no timing
    tells how much of it was right). Never when the secret is empty: that means "none set"."""
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def main(names: list[str]) -> int:
    """Check each named environment variable; print every refusal; 1 if there was one."""
    failed = 0
    for name in names:
        try:
            require_secret(name, os.environ.get(name, ""))
        except ImproperlyConfigured as exc:
            print(f"refusing to start: {exc}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

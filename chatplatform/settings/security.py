"""Security and limits: secrets that fail closed, the hosts served, HTTPS, the largest request,
and the rate limits with the cache they count in (docs/security.md)."""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from core.secrets import require_secret

from .base import DEBUG, env, env_or
from .queues import REDIS_URL


def secret(name: str, development_default: str, *, optional: bool = False) -> str:
    """A secret from the environment; empty means the development default, which (like any
    placeholder or a too-short key) is refused when DEBUG is off (core.secrets): fail closed.
    `optional`: empty is allowed with DEBUG off too (no SMTP login), a placeholder is not."""
    value = env_or(name, development_default)
    if not DEBUG:
        require_secret(name, value, allow_empty=optional)
    return value


def secret_list(name: str) -> list[str]:
    """Comma-separated secrets (empty: none), each refused like `secret`'s when DEBUG is off."""
    values = [value.strip() for value in env(name, default="").split(",") if value.strip()]
    if not DEBUG:
        for value in values:
            require_secret(name, value)
    return values


SECRET_KEY = secret("DJANGO_SECRET_KEY", "insecure-development-key-change-me")
# The keys DJANGO_SECRET_KEY had before a rotation (docs/security.md, "Rotating the secret
# key"): what they signed still verifies (the unsubscribe links in emails already sent,
# sessions, password reset links), while only SECRET_KEY signs anything new.
SECRET_KEY_FALLBACKS = secret_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS (docs/security.md, "HTTPS"): `manage.py check --deploy` passes with DEBUG off ------
# TLS ends at a reverse proxy in front (make prod and compose: nginx; docs/deploy.md). With DEBUG
# off, session and CSRF cookies travel over https only and browsers are told to use https for a
# year; development (DEBUG on, plain http) keeps both off.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Only behind a proxy that sets X-Forwarded-Proto and drops a client's own: then Django knows a
# request came over https (HSTS is sent, CSRF compares https origins).
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The proxy redirects http to https. If Django is told to as well, Prometheus and the health
# checks, which reach the app's port in plain http, are not redirected.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SILENCED_SYSTEM_CHECKS = [
    # security.W008, SECURE_SSL_REDIRECT off: the TLS proxy in front redirects http to https;
    # the app's own port is internal and answers Prometheus and health checks in plain http.
    "security.W008",
    # security.W021, SECURE_HSTS_PRELOAD off: preloading has browser vendors hard-code the domain
    # as https-only, hard to undo; its owner opts in with DJANGO_HSTS_PRELOAD=true.
    "security.W021",
]

# Largest request body accepted; 413 above it (core.request_size). The largest legitimate one is
# a message: MESSAGE_MAX_LENGTH characters, under 50 KB of JSON even with each one escaped
# (\uXXXX\uXXXX); admin forms are bounded by their 1000 fields. 256 KiB leaves 5x headroom and
# keeps a stranger's unauthenticated POST from costing megabytes of parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BYTES", default=256 * 1024)

# --- Cache and rate limits (the ratelimits app; docs/security.md) ----------------------------
# One cache for every web process, so that a limit counts a client once however many processes
# serve it. Default: REDIS_URL's server, database 1 (apart from the broker's queues). Short
# timeouts: when Redis is down the limits are skipped with a logged warning (fail open) and a
# login waits at most about a second for it, instead of failing.
_REDIS = urlsplit(REDIS_URL)
CACHE_URL = env_or(
    "CACHE_URL",
    _REDIS._replace(path="/1").geturl() if _REDIS.scheme in ("redis", "rediss") else REDIS_URL,
)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }
}


def rate_limit(name: str, default: str) -> str | None:
    """A limit in DRF's rate syntax ("10/min": at least 1 per second, minute, hour or day, also
    spelt s, sec, m, min, h, d); empty: none. Checked here, at start, so that a typo stops the
    process instead of failing every request that reads it; DRF's parse_rate converts it."""
    value = env(name, default=default).strip()
    if value and not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)s?", value):
        raise ImproperlyConfigured(
            f"{name} must look like 10/min, at least 1 per second, minute, hour or day (or be"
            " empty: no limit)"
        )
    return value or None


# Login and token attempts, per client address and per account (all three logins together).
AUTH_RATE_LIMIT = rate_limit("AUTH_RATE_LIMIT", "10/min")
# Registrations per client address.
REGISTER_RATE_LIMIT = rate_limit("REGISTER_RATE_LIMIT", "20/hour")
# Writes per user: messages posted, edited, deleted; members added, changed, removed; chats.
WRITE_RATE_LIMIT = rate_limit("WRITE_RATE_LIMIT", "60/min")

"""DRF throttles for everything a stranger can trigger, with their rates from the settings.

Each throttle counts in Django's default cache (Redis, shared by every web process) under a key
made of its scope and a digest of the client (an IPv4 address, an IPv6 /64), the posted account
name or the user.
The rates are read on each request from AUTH_RATE_LIMIT, REGISTER_RATE_LIMIT,
WRITE_RATE_LIMIT and LIVE_LAG_RATE_LIMIT (DRF's syntax, "10/min"; None is no limit), not frozen
at import as DRF's DEFAULT_THROTTLE_RATES would be. Only writes count (POST, PATCH, PUT, DELETE):
reading a page never uses up an attempt.

When the cache does not answer, the request is let through with a logged warning (fail open):
a Redis outage must not turn every login into a 500. The limit is then off until Redis is back.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

from .models import RefusedAttempt, Scope

logger = logging.getLogger(__name__)

# Django's usernames are at most 150 characters: a longer name is no account, and the cache key
# and the admin's row stay bounded.
IDENT_MAX_LENGTH = 150
# A refused scope and ident is written to the database at most once in this many seconds; the
# refusals in between wait in the cache for PENDING_TTL at most (the admin shows them meanwhile).
RECORD_INTERVAL = 60
PENDING_TTL = 3 * 3600
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


def cache_key(scope: str, ident: str) -> str:
    """The cache key of one scope and ident: a digest, so any posted text makes a short, safe
    key (Django warns on keys with spaces or control characters)."""
    digest = hashlib.sha256(ident.encode()).hexdigest()[:40]
    return f"throttle:{scope}:{digest}"


def normalise_account(value: object) -> str | None:
    """The account a login attempt is for: case- and width-insensitive, so that `Alice`,
    `ALICE` and `alice ` share one count; None when nothing usable was posted."""
    if not isinstance(value, str):
        return None
    name = unicodedata.normalize("NFKC", value).strip().casefold()[:IDENT_MAX_LENGTH]
    return name or None


def client_ident(address: str | None) -> str:
    """What one client is, from its address: an IPv4 address; an IPv6 client's /64, the block
    one subscriber or host is given (counting each /128 would let it pick a fresh address per
    attempt); an IPv4-mapped IPv6 address as its IPv4 one. No address: "unknown"; anything that
    is no address (a proxy's odd header) as it came, bounded."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:IDENT_MAX_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def pending_key(scope: str, ident: str, hour: datetime) -> str:
    """The cache key counting the refusals of one hour's row not yet written to it."""
    return f"{cache_key(scope, ident)}:refused:{int(hour.timestamp()) // 3600}"


def record_refusal(scope: str, ident: str) -> None:
    """Count one refusal for the admin: in the cache, and in this hour's row at most once per
    RECORD_INTERVAL per scope and ident, with what the cache counted since. A flood of refusals
    thus costs the database (SQLite: its one write lock) a write a minute, not one a request;
    the admin adds what is still pending. Never raises: the 429 is what matters."""
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    logger.info("rate limit %s refused %r", scope, ident)
    # The previous hour's too: refusals counted just before the hour turned.
    rows = [(start, pending_key(scope, ident, start)) for start in (hour - HOUR, hour)]
    try:
        cache.add(rows[1][1], 0, PENDING_TTL)
        cache.incr(rows[1][1])
        if not cache.add(f"{cache_key(scope, ident)}:recorded", 1, RECORD_INTERVAL):
            return  # written with a later refusal
        pending = cache.get_many([key for _, key in rows])
    except (RedisError, ValueError) as exc:  # ValueError: the count expired in between
        logger.warning("could not count a refusal of %s for %r: %s", scope, ident, exc)
        return
    for start, key in rows:
        count = pending.get(key)
        if count and write_refusals(scope, ident, start, count, min(now, start + HOUR - TICK)):
            try:
                cache.decr(key, count)
            except (RedisError, ValueError) as exc:
                logger.warning("refusals of %s for %r may count twice: %s", scope, ident, exc)


def write_refusals(scope: str, ident: str, hour: datetime, count: int, last: datetime) -> bool:
    """Add `count` refusals to one hour's row (created on the first); False if the database
    refused."""
    row = {"scope": scope, "ident": ident, "hour": hour}
    bump = {"count": F("count") + count, "last_refused_at": last}
    try:
        try:
            with transaction.atomic():
                if not RefusedAttempt.objects.filter(**row).update(**bump):
                    RefusedAttempt.objects.create(**row, count=count, last_refused_at=last)
        except IntegrityError:  # another process created the row in between
            RefusedAttempt.objects.filter(**row).update(**bump)
    except DatabaseError:
        logger.warning("could not record refusals of %s for %r", scope, ident, exc_info=True)
        return False
    return True


class SettingRateThrottle(SimpleRateThrottle):
    """A throttle whose rate is the Django setting `rate_setting`, refusing writes only."""

    scope: str
    rate_setting: str

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting) or None

    def ident_of(self, request: Any) -> str | None:
        """What this throttle counts per (address, account, user); None: not counted."""
        raise NotImplementedError

    def get_cache_key(self, request: Any, view: object) -> str | None:
        if request.method in SAFE_METHODS:
            return None
        self.ident = self.ident_of(request)
        return None if self.ident is None else cache_key(self.scope, self.ident)

    def allow_request(self, request: Any, view: object) -> bool:
        """DRF's sliding window, failing open when the cache is down; a refusal is recorded."""
        try:
            allowed = super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("rate limit %s not applied, the cache is down: %s", self.scope, exc)
            return True
        if not allowed:
            record_refusal(self.scope, self.ident)
        return allowed

    def wait(self) -> float:
        """Seconds until an attempt is allowed again: always a number, so every 429 carries a
        Retry-After (DRF gives none when the history outgrew a rate that was lowered)."""
        waited = super().wait()
        return float(self.duration) if waited is None else waited


class ClientAddressMixin:
    """Counts per client (client_ident: an IPv4 address, an IPv6 /64) of the address REMOTE_ADDR,
    or behind TRUSTED_PROXY_COUNT proxies the one the outermost trusted proxy put in
    X-Forwarded-For (DRF's NUM_PROXIES). Requests without an address (a Unix socket with no
    proxy header) count together as one client, "unknown": limited too, and the admin page
    shows the setup needs TRUSTED_PROXY_COUNT."""

    def ident_of(self, request: Any) -> str | None:
        return client_ident(self.get_ident(request))


class AuthClientThrottle(ClientAddressMixin, SettingRateThrottle):
    scope = Scope.AUTH_CLIENT.value
    rate_setting = "AUTH_RATE_LIMIT"


class AuthAccountThrottle(SettingRateThrottle):
    """Counts per account posted, from whichever address: guessing one user's password from
    many addresses is still limited."""

    scope = Scope.AUTH_ACCOUNT.value
    rate_setting = "AUTH_RATE_LIMIT"

    def ident_of(self, request: Any) -> str | None:
        # A DRF request parses its body here (a malformed one is the same 400 the view gives);
        # a Django form post has it in POST.
        data = request.data if hasattr(request, "data") else request.POST
        return normalise_account(data.get("username") if hasattr(data, "get") else None)


class RegisterThrottle(ClientAddressMixin, SettingRateThrottle):
    scope = Scope.REGISTER_CLIENT.value
    rate_setting = "REGISTER_RATE_LIMIT"


class ConfirmationThrottle(ClientAddressMixin, SettingRateThrottle):
    """New confirmation links asked for from one client (each mailbox has its own limit too:
    EMAIL_CONFIRMATION_LIMIT)."""

    scope = Scope.CONFIRM_CLIENT.value
    rate_setting = "CONFIRMATION_RATE_LIMIT"


class WriteThrottle(SettingRateThrottle):
    """Counts each logged-in user's writes (messages, members, chats), wherever they come from.
    Anonymous requests are refused by authentication before throttles run."""

    scope = Scope.WRITE_USER.value
    rate_setting = "WRITE_RATE_LIMIT"

    def ident_of(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        return user.get_username() if user is not None and user.is_authenticated else None


class LiveLagThrottle(WriteThrottle):
    """Counts each user's live lag reports (observability.browser_lag): a page posts one batch
    every ~10 s at most while messages arrive, so LIVE_LAG_RATE_LIMIT leaves room for a few open
    tabs and stops a script that would flood the histogram."""

    scope = Scope.LIVE_LAG_USER.value
    rate_setting = "LIVE_LAG_RATE_LIMIT"


# Login and token attempts count per client address and per account, both at AUTH_RATE_LIMIT.
AUTH_THROTTLES: list[type[SettingRateThrottle]] = [AuthClientThrottle, AuthAccountThrottle]

"""The per-recipient email cap (EMAIL_RECIPIENT_LIMIT) and the digest of what it held back.

Consent (docs/consent.md) keeps strangers from being emailed; the cap keeps anyone who did
consent, an admin of many busy chats, from being flooded. At record time (`assign_statuses`,
inside the change's transaction) an email over the cap is written `held` instead of `pending`,
and never queued. Beat's `build_digests` later folds every held email of an inbox into one
digest, itself a Notification that counts as one email and is delivered like any other (claim,
retries, admin), once the window has room. Nothing is lost: each held row ends `folded`,
pointing at its digest.

The window slides: "20/hour" allows 20 emails (digests included) created in any 60 minutes.
The count is per mailbox (accounts.addresses.canonical: neither case nor a `+tag` makes another),
not per account: several accounts may share one.
"""

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Min, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from chats.models import Notification
from core import outbox, tracing
from core.outbox import OutboxStatus

User = get_user_model()

# A digest names this many events; the rest are counted ("…and 214 more"), so that one digest of
# a flood stays a readable email of bounded size.
LISTED = 20
# Inboxes looked at per beat run (a few queries each), so one run stays well within its time
# limit however many were flooded; the next run goes on.
INBOXES_PER_RUN = 2000
# What counts against the cap: every email queued or tried (any outbox status; held and folded
# are not), digests included.
COUNTED = OutboxStatus.values
PERIODS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def parse_limit(rate: str | None) -> tuple[int, int] | None:
    """(count, seconds) of a limit setting in DRF's rate syntax; None when empty.
    settings.rate_limit validated it at start, so converting cannot fail here (nor fail a
    membership change)."""
    # parse_rate uses nothing of its instance; a throttle instance would need a DRF scope.
    return SimpleRateThrottle.parse_rate(None, rate) if rate else None  # type: ignore[arg-type]


def recipient_limit() -> tuple[int, int] | None:
    """(emails, seconds) from EMAIL_RECIPIENT_LIMIT; None when empty."""
    return parse_limit(settings.EMAIL_RECIPIENT_LIMIT)


def to_mailbox(key: str) -> QuerySet[Notification]:
    """One mailbox's notifications (`key`: accounts.addresses.canonical), through its index."""
    return Notification.objects.filter(recipient_key=key)


def counted_since(key: str, since: datetime) -> int:
    """Emails to this mailbox that count against the cap, created since `since`."""
    return to_mailbox(key).filter(status__in=COUNTED, created_at__gte=since).count()


def _lock_key(key: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks, per mailbox."""
    raw = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


def lock_mailboxes(keys: Iterable[str]) -> None:
    """Serialize the cap's count-then-write per inbox, until the transaction ends.

    PostgreSQL: an advisory lock per address, not a row lock on its users: the membership insert
    before this already holds a key-share lock on the added user, so row locks on recipients made
    two adds (each added user the other's admin) deadlock; and the cap is per address, which
    several accounts may share. Sorted keys: two transactions take them in one order. SQLite
    needs nothing: its transactions take the one write lock when they begin (IMMEDIATE).
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({_lock_key(key) for key in keys})
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def assign_statuses(rows: list[Notification]) -> None:
    """Mark the unsaved rows over the cap `held`; call inside the transaction that saves them.

    An inbox that already has held rows gets none individually until its digest went, so that
    emails arrive in the order of their events.
    """
    limit = recipient_limit()
    if limit is None or not rows:
        return
    emails, seconds = limit
    lock_mailboxes(row.recipient_key for row in rows)
    since = timezone.now() - timedelta(seconds=seconds)
    room: dict[str, int] = {}
    for row in rows:
        key = row.recipient_key
        if key not in room:
            waiting = to_mailbox(key).filter(status=Notification.HELD).exists()
            room[key] = 0 if waiting else max(0, emails - counted_since(key, since))
        if room[key] > 0:
            room[key] -= 1
        else:
            row.status = Notification.HELD


def build_digests() -> list[int]:
    """Fold each inbox's held emails into one digest where the window has room again; returns
    the digests' ids, committed and to be queued. With no limit configured (any more), every
    held email goes at once, in its inbox's digest."""
    limit = recipient_limit()
    # Longest waiting first: inboxes whose period is still full cannot keep the others waiting
    # for more than a period, however many there are.
    keys = (
        Notification.objects.filter(status=Notification.HELD)
        .values("recipient_key")
        .annotate(first=Min("id"))
        .order_by("first")
        .values_list("recipient_key", flat=True)[:INBOXES_PER_RUN]
    )
    built = (_digest_for(key, limit) for key in list(keys))
    return [pk for pk in built if pk is not None]


@transaction.atomic
def _digest_for(key: str, limit: tuple[int, int] | None) -> int | None:
    lock_mailboxes([key])
    held = to_mailbox(key).filter(status=Notification.HELD)
    now = timezone.now()
    if limit is not None and counted_since(key, now - timedelta(seconds=limit[1])) >= limit[0]:
        return None
    latest = held.order_by("-id").first()
    if latest is None:  # another run folded them meanwhile
        return None
    digest = Notification.objects.create(
        event=Notification.Event.DIGEST,
        recipient_id=latest.recipient_id,
        recipient_email=latest.recipient_email,
        recipient_key=key,
        created_at=now,
        updated_at=now,
        # Its delivery continues beat's trace; each folded email's own ended when it was held.
        trace_context=tracing.current_traceparent(),
    )
    # The inbox's lock keeps other runs and new held rows out until the commit.
    count = outbox.finish(Notification, held, Notification.FOLDED, digest=digest)
    listed = list(digest.folded.order_by("id")[:LISTED])
    username = User.objects.filter(pk=latest.recipient_id).values_list("username", flat=True)
    context = {
        "recipient": username.first() or latest.recipient_email,
        "count": count,
        "events": [{"when": n.created_at, "what": n.subject} for n in listed],
        "more": count - len(listed),
        "limit": limit and f"{limit[0]} emails per {PERIODS[limit[1]]}",
        "settings_url": settings.PUBLIC_BASE_URL + reverse("email-settings"),
    }
    digest.subject = f"{count} more chat notification{'s' if count != 1 else ''} in one email"
    digest.body_text = render_to_string("chats/email/digest.txt", context)
    digest.body_html = render_to_string("chats/email/digest.html", context)
    digest.save(update_fields=["subject", "body_text", "body_html"])
    return digest.pk

"""A year of traffic, bulk-loaded with COPY (bench.history.copy_rows): users, chats, memberships
and their join and leave events, messages, and the outbox rows that history leaves (two live
publications per message, one email per admin per join or leave, a few failed, some folded into
digests), plus the rate limits' refusal rows; then what is in flight now (stale, held).

Ids are set here, in time order, as a platform that ran for a year would have them (the tables'
physical order follows time too); the sequences are moved past them afterwards.

Where the traffic falls: a history of `messages` is compared with one of `base` (the smallest
size of the run), so the windows a job reads carry the same traffic at every size: the first
`edge_days` (what a retention run deletes first) and the last `recent_days` (the snapshot's and
the report's windows, the active-users windows, the retention cutoff) hold `base`'s daily traffic,
and the days in between hold the rest. A figure that grows from one size to the next then grows
with history, not with a busier last hour. Users, chats and memberships grow with the size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from bench import history
from bench.history import copy_rows

DAY_SECONDS = 86400
NULL = "\\N"  # COPY's text format
CHUNK_ROWS = 500_000  # rows per COPY statement (each its own transaction)
PUBLISH_DELAY = 0.02  # seconds from a message to its publications being sent
EMAIL_DELAY = 3.0  # seconds from a join to its emails being sent
FAILED_EVERY = 1000  # one publication in this many, and one email in 100, failed
FOLDED_PER_FLOOD = 5  # a flood a day: this many emails held, then folded into a digest
STALE_PUBLICATIONS = 200  # in flight now: pending for longer than OUTBOX_STALE_SECONDS
STALE_NOTIFICATIONS = 50
HELD_INBOXES, HELD_PER_INBOX = 3, 10  # held now, waiting for a digest


@dataclass(frozen=True)
class Year:
    """The shape of one history; see the module docstring."""

    messages: int
    base: int
    end: datetime  # an hour boundary; history is [end - days, end)
    days: int = 365
    edge_days: int = 7
    recent_days: int = 60

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    def scaled(self, per_base: float, minimum: int) -> int:
        """A count that grows with the size: `per_base` per message, at least `minimum`."""
        return max(minimum, int(self.messages * per_base))

    @property
    def users(self) -> int:
        return self.scaled(1 / 50, 50)

    @property
    def chats(self) -> int:
        return self.scaled(1 / 500, 12)

    @property
    def base_users(self) -> int:
        """Who writes in the windows: the first users (the same number at every size)."""
        return min(self.users, max(50, self.base // 50))

    @property
    def base_chats(self) -> int:
        return min(self.chats, max(12, self.base // 500))

    def in_window(self, day: int) -> bool:
        return day < self.edge_days or day >= self.days - self.recent_days

    def in_windows(self, epoch_seconds: np.ndarray) -> np.ndarray:
        """Which of these times fall in the windows (a bool array)."""
        day = ((epoch_seconds - self.start.timestamp()) // DAY_SECONDS).astype(np.int64)
        return (day < self.edge_days) | (day >= self.days - self.recent_days)

    def day_counts(self, total: int) -> np.ndarray:
        """`total` rows (of a table that grows with the size) spread over the days: a window
        day gets what it would get at the base size, the other days share the rest."""
        per_day = total * self.base / self.messages / self.days
        window = sum(self.in_window(d) for d in range(self.days))
        middle = self.days - window
        rest = max(0.0, total - per_day * window) / middle if middle else 0.0
        weights = np.array([per_day if self.in_window(d) else rest for d in range(self.days)])
        weights *= total / weights.sum()
        edges = np.round(np.cumsum(weights)).astype(np.int64)
        return np.diff(edges, prepend=0)

    def times(self, total: int, rng: np.random.Generator) -> np.ndarray:
        """`total` sorted epoch seconds following `day_counts` (random within each day)."""
        counts = self.day_counts(total)
        day = np.repeat(np.arange(self.days), counts)
        seconds = day * DAY_SECONDS + rng.random(total) * DAY_SECONDS
        seconds.sort()
        return self.start.timestamp() + seconds


def stamps(epoch_seconds: np.ndarray) -> list[str]:
    """timestamptz text for COPY, vectorised (microseconds, UTC)."""
    micros = np.round(np.asarray(epoch_seconds) * 1e6).astype("datetime64[us]")
    return [s + "+00" for s in np.datetime_as_string(micros, unit="us").tolist()]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def escape(text: str) -> str:
    """A value in COPY's text format (the email bodies hold newlines)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def chunks(n: int, size: int = CHUNK_ROWS) -> Iterator[slice]:
    for offset in range(0, n, size):
        yield slice(offset, min(n, offset + size))


# --- people ------------------------------------------------------------------------------------


USER_COLUMNS = ["id", *history.USER_COLUMNS]


def load_users(year: Year, rng: np.random.Generator) -> None:
    """User i is `bench<i>`, id i + 1; user 0 (the one with many chats) joined first."""
    joined = stamps(year.times(year.users, rng))
    copy_rows(
        "auth_user",
        USER_COLUMNS,
        (
            f"{i + 1}\t!\tf\tbench{i}\t\t\tbench{i}@example.com\tf\tt\t{joined[i]}"
            for i in range(year.users)
        ),
    )


@dataclass
class Chats:
    """What the outbox rows need to know of the chats loaded: when each was created, its owner
    and admins (user indexes)."""

    created: np.ndarray  # epoch seconds, by chat index
    owner: np.ndarray
    admins: list[tuple[int, int]]


def load_chats(year: Year, rng: np.random.Generator) -> Chats:
    """Chat j is id j + 1, created over the year; chat 0 (the busiest, the biggest) is user 0's."""
    created = year.times(year.chats, rng)
    owner = rng.integers(0, year.users, year.chats)
    owner[0] = 0
    at = stamps(created)
    copy_rows(
        "chats_chat",
        ["id", "title", "created_by_id", "created_at", "updated_at", "is_demo"],
        (f"{j + 1}\tChat {j}\t{owner[j] + 1}\t{at[j]}\t{at[j]}\tf" for j in range(year.chats)),
    )
    pairs = rng.integers(0, year.users, (year.chats, 2)).tolist()
    admins = [(a, b) for a, b in pairs]
    return Chats(created=created, owner=owner, admins=admins)


def members_of(year: Year, chats: Chats, rng: np.random.Generator) -> list[tuple[int, int, str]]:
    """(chat, user, role): each chat's owner, two admins and about a dozen members; chat 0 has
    a twentieth of the users; user 0 belongs to every fourth chat."""
    rows = []
    for j in range(year.chats):
        owner = int(chats.owner[j])
        size = year.users // 20 if j == 0 else 3 + int(rng.poisson(12))
        wanted = {owner: "owner"}
        for admin in chats.admins[j]:
            wanted.setdefault(admin, "admin")
        if j == 0:
            others = rng.choice(year.users, size=min(size, year.users), replace=False)
        else:
            others = rng.integers(0, year.users, size)
        for user in others.tolist():
            wanted.setdefault(user, "member")
        if j % 4 == 0:
            wanted.setdefault(0, "member")
        # The admins of the lists above may have been taken as owner: keep two admin roles.
        rows.extend((j, user, role) for user, role in wanted.items())
    return rows


# --- memberships, their events and emails ------------------------------------------------------


def _rendered_emails() -> dict[str, dict[str, str]]:
    """One rendered email per event, as chats.emails.recording renders them (sizes as in life)."""
    from chats.emails.recording import rendered
    from chats.models import Notification

    context = {
        "chat_title": "Chat 1234",
        "chat_id": 1234,
        "actor": "bench1",
        "subject": "bench2",
        "recipient": "bench3",
    }
    out = {}
    for event in (Notification.Event.MEMBER_ADDED, Notification.Event.MEMBER_REMOVED):
        email = rendered(event, {**context, "event": event})
        out[event] = {key: escape(value) for key, value in email.items()}
    digest = {
        "subject": "5 more chat notifications in one email",
        "body_text": escape("You have 5 more chat notifications.\n" * 8),
        "body_html": escape("<p>You have 5 more chat notifications.</p>\n" * 8),
    }
    out["digest"] = digest
    return out


# The columns of core.outbox.OutboxRow, in both outbox tables.
OUTBOX_COLUMNS = [
    "id",
    "status",
    "attempts",
    "last_error",
    "claimed_until",
    "created_at",
    "updated_at",
    "done_at",
]
NOTIFICATION_COLUMNS = [
    *OUTBOX_COLUMNS,
    "event",
    "chat_id",
    "recipient_id",
    "recipient_email",
    "recipient_key",
    "subject",
    "body_text",
    "body_html",
    "digest_id",
]


def load_memberships(year: Year, chats: Chats, rng: np.random.Generator) -> dict[str, int]:
    """Memberships with a join event each (a tenth more joined and left since), and the emails
    they sent: one per admin per join or leave, one in a hundred failed, and a flood a day whose
    last emails were held and folded into a digest. Returns the notifications per status."""
    members = members_of(year, chats, rng)
    joined = _join_times(year, [j for j, _, _ in members], rng)
    joined = np.maximum(joined, chats.created[[j for j, _, _ in members]])
    owner_rows = [i for i, (_, _, role) in enumerate(members) if role == "owner"]
    joined[owner_rows] = chats.created[[members[i][0] for i in owner_rows]]
    at = stamps(joined)
    copy_rows(
        "chats_membership",
        ["id", "chat_id", "user_id", "role", "email_notifications", "joined_at"],
        (
            f"{i + 1}\t{j + 1}\t{u + 1}\t{role}\tt\t{at[i]}"
            for i, (j, u, role) in enumerate(members)
        ),
    )
    # Events: every join, and a tenth more members who joined and left.
    left = len(members) // 10
    left_times = year.times(left, rng)
    window = year.in_windows(left_times)
    left_chat = np.where(
        window, rng.integers(0, year.base_chats, left), rng.integers(0, year.chats, left)
    )
    left_user = np.where(
        window, rng.integers(0, year.base_users, left), rng.integers(0, year.users, left)
    )
    left_join = np.maximum(chats.created[left_chat], left_times - rng.random(left) * 30 * 86400)
    events = [(joined[i], j, u, "join") for i, (j, u, _) in enumerate(members)]
    events += [(left_join[k], int(left_chat[k]), int(left_user[k]), "join") for k in range(left)]
    events += [(left_times[k], int(left_chat[k]), int(left_user[k]), "leave") for k in range(left)]
    events.sort()
    when = stamps(np.array([e[0] for e in events]))
    copy_rows(
        "chats_membershipevent",
        ["id", "chat_id", "user_id", "kind", "at"],
        (
            f"{i + 1}\t{j + 1}\t{u + 1}\t{kind}\t{when[i]}"
            for i, (_, j, u, kind) in enumerate(events)
        ),
    )
    return _load_notifications(year, chats, events, rng)


def _join_times(year: Year, chat_of: list[int], rng: np.random.Generator) -> np.ndarray:
    """A join time for each membership (of chat index `chat_of[i]`), following `day_counts`;
    those in the windows go to memberships of the base size's chats, as its messages do, so the
    joins (and their emails) in a window are those of the base size."""
    times = year.times(len(chat_of), rng)
    window = year.in_windows(times)
    chat_of_arr = np.asarray(chat_of)
    base = rng.permutation(np.flatnonzero(chat_of_arr < year.base_chats))
    others = np.flatnonzero(chat_of_arr >= year.base_chats)
    wanted = int(window.sum())
    # More window joins than base memberships cannot happen at the proportions here; if it did,
    # the rest would go to any chat.
    in_base, spare = base[:wanted], base[wanted:]
    rest = rng.permutation(np.concatenate([spare, others]))
    window_slots = np.flatnonzero(window)
    other_slots = np.flatnonzero(~window)
    order = np.empty(len(chat_of), dtype=np.int64)
    n = min(wanted, len(in_base))
    order[in_base[:n]] = window_slots[:n]
    leftover = np.concatenate([window_slots[n:], other_slots])
    order[rest] = rng.permutation(leftover)
    return times[order]


def _load_notifications(
    year: Year, chats: Chats, events: list[tuple], rng: np.random.Generator
) -> dict[str, int]:
    emails = _rendered_emails()
    # (time, recipient, chat, event, status, flood key): a join emails the two admins, a leave
    # the owner too; the owner's own join (the chat's creation) emails nobody.
    rows: list[tuple] = []
    for t, j, u, kind in events:
        owner = int(chats.owner[j])
        if kind == "join" and u == owner and t <= chats.created[j] + 1:
            continue
        recipients = list(chats.admins[j]) + ([owner] if kind == "leave" else [])
        event = "member_added" if kind == "join" else "member_removed"
        for r in recipients:
            if r != u:
                rows.append((t, r, j, event, "sent", None))
    # A flood a day: one admin got more than the cap in an hour; the last few were folded.
    floods = []
    for day in range(year.days):
        t = year.start.timestamp() + day * DAY_SECONDS + rng.random() * (DAY_SECONDS - 7200)
        j = int(rng.integers(0, year.base_chats))
        admin = chats.admins[j][0]
        for k in range(FOLDED_PER_FLOOD):
            rows.append((t + k, admin, j, "member_added", "folded", day))
        floods.append((t + 3600, admin, None, "digest", "sent", day))
    rows.extend(floods)
    rows.sort(key=lambda row: row[0])
    digest_ids = {}
    for i, row in enumerate(rows):
        if row[3] == "digest":
            digest_ids[row[5]] = i + 1
    failed = rng.random(len(rows)) < 0.01
    created = stamps(np.array([row[0] for row in rows]))
    done = stamps(np.array([row[0] + EMAIL_DELAY for row in rows]))
    folded_done = {day: done[digest_ids[day] - 1] for day in digest_ids}
    counts = {"sent": 0, "failed": 0, "folded": 0}

    def line(i: int, row: tuple) -> str:
        _, recipient, chat, event, status, flood = row
        error = ""
        if status == "sent" and event != "digest" and failed[i]:
            status, error = "failed", "550 mailbox unavailable"
        counts[status] += 1
        finished = folded_done[flood] if status == "folded" else done[i]
        digest = digest_ids[flood] if status == "folded" else NULL
        email = emails[event]
        chat_id = NULL if chat is None else chat + 1
        return (
            f"{i + 1}\t{status}\t1\t{error}\t{NULL}\t{created[i]}\t{finished}\t{finished}\t"
            f"{event}\t{chat_id}\t{recipient + 1}\tbench{recipient}@example.com\t"
            f"bench{recipient}@example.com\t"
            f"{email['subject']}\t{email['body_text']}\t{email['body_html']}\t{digest}"
        )

    for part in chunks(len(rows), 100_000):
        copy_rows(
            "chats_notification",
            NOTIFICATION_COLUMNS,
            (line(i, rows[i]) for i in range(part.start, part.stop)),
        )
    return counts


# --- messages and their publications -----------------------------------------------------------


PUBLICATION_COLUMNS = [*OUTBOX_COLUMNS, "channel", "data"]


def load_messages(
    year: Year,
    times: np.ndarray,
    first_id: int,
    first_publication_id: int,
    rng: np.random.Generator,
    windows: np.ndarray | None = None,
) -> dict[str, int]:
    """Messages at `times` (sorted epoch seconds), ids from `first_id`, each with its two
    publications (the chat's event and the live page's tick, ids from `first_publication_id`),
    sent (one in FAILED_EVERY failed). Busy chats are busier (a power law); in the windows (or
    where `windows` says) only the base size's users and chats write. Returns publications per
    status."""
    counts = {"sent": 0, "failed": 0}
    if windows is None:
        windows = year.in_windows(times)
    for part in chunks(len(times)):
        n = part.stop - part.start
        inside = windows[part]
        chats = np.where(inside, year.base_chats, year.chats)
        users = np.where(inside, year.base_users, year.users)
        chat = ((chats * rng.random(n) ** 3).astype(np.int64) + 1).tolist()
        author = ((users * rng.random(n)).astype(np.int64) + 1).tolist()
        ids = range(first_id + part.start, first_id + part.stop)
        created = stamps(times[part])
        sent = stamps(times[part] + PUBLISH_DELAY)
        failed = (rng.random(n) < 1 / FAILED_EVERY).tolist()
        copy_rows(
            "chats_message",
            ["id", "chat_id", "author_id", "text", "created_at"],
            (
                f"{m}\t{c}\t{a}\thello\t{t}"
                for m, c, a, t in zip(ids, chat, author, created, strict=True)
            ),
        )

        copy_rows(
            "chats_publication",
            PUBLICATION_COLUMNS,
            _publication_lines(
                ids.start,
                first_publication_id + 2 * part.start,
                chat,
                author,
                created,
                sent,
                failed,
            ),
        )
        failures = sum(failed)
        counts["failed"] += failures
        counts["sent"] += 2 * n - failures
    return counts


def _publication_lines(
    first_message: int,
    first: int,
    chat: list[int],
    author: list[int],
    created: list[str],
    sent: list[str],
    failed: list[bool],
) -> Iterator[str]:
    """COPY lines of the two publications of each message, as chats.live.recording writes them."""
    p = first
    for k, (c, a, t, done) in enumerate(zip(chat, author, created, sent, strict=True)):
        at = t[:-3] + "Z"  # as the API writes it
        event = (
            f'{{"type": "message_created", "message": {{"id": {first_message + k}, '
            f'"chat_id": {c}, "author_id": {a}, "author": "bench{a - 1}", "text": "hello", '
            f'"created_at": "{at}", "edited_at": null, "deleted": false}}}}'
        )
        tick = f'{{"type": "message_activity", "chat_id": {c}, "created_at": "{at}"}}'
        status, error = ("failed", "Centrifugo unavailable") if failed[k] else ("sent", "")
        yield f"{p}\t{status}\t1\t{error}\t{NULL}\t{t}\t{done}\t{done}\tchat:{c}\t{event}"
        yield f"{p + 1}\tsent\t1\t\t{NULL}\t{t}\t{done}\t{done}\tstats:live\t{tick}"
        p += 2


# --- the rest ----------------------------------------------------------------------------------


def load_refusals(year: Year, rng: np.random.Generator) -> None:
    """The rate limits' refusal rows: one per limit, client and hour (a thousandth of the
    messages)."""
    n = year.scaled(1 / 1000, 10)
    times = year.times(n, rng)
    hours = stamps(times // 3600 * 3600)
    last = stamps(times)
    scopes = ["auth-client", "auth-account", "register-client", "write-user"]
    scope = rng.integers(0, len(scopes), n)
    count = rng.integers(1, 50, n)
    copy_rows(
        "ratelimits_refusedattempt",
        ["id", "scope", "ident", "hour", "count", "last_refused_at"],
        (
            f"{i + 1}\t{scopes[scope[i]]}\tclient{i}\t{hours[i]}\t{count[i]}\t{last[i]}"
            for i in range(n)
        ),
    )


def load_in_flight(now: datetime, chats: Chats) -> None:
    """What is in flight now, the same at every size: stale pending publications and emails
    (for the sweeper), and emails held over their inbox's cap (for the digest job)."""
    from chats.models import Notification, Publication

    stale = now - timedelta(minutes=10)
    Publication.objects.bulk_create(
        Publication(
            channel="chat:1",
            data={"type": "message_created", "message": {"id": 0}},
            created_at=stale,
            updated_at=stale,
        )
        for _ in range(STALE_PUBLICATIONS)
    )
    emails = _rendered_emails()["member_added"]
    unescaped = {k: v.replace("\\n", "\n").replace("\\t", "\t") for k, v in emails.items()}

    def email(recipient: int, status: str, at: datetime) -> Notification:
        return Notification(
            status=status,
            event=Notification.Event.MEMBER_ADDED,
            chat_id=1,
            recipient_id=recipient + 1,
            recipient_email=f"bench{recipient}@example.com",
            recipient_key=f"bench{recipient}@example.com",
            created_at=at,
            updated_at=at,
            **unescaped,
        )

    admins = chats.admins[0]
    rows = [email(admins[i % 2], "pending", stale) for i in range(STALE_NOTIFICATIONS)]
    held_at = now - timedelta(minutes=20)
    # Inboxes that the stale emails above do not fill: each gets its digest on the next run.
    inboxes = [user for user in range(HELD_INBOXES + 2) if user not in admins][:HELD_INBOXES]
    rows += [
        email(user, Notification.HELD, held_at) for user in inboxes for _ in range(HELD_PER_INBOX)
    ]
    Notification.objects.bulk_create(rows)


def move_sequences() -> None:
    """Every table loaded with explicit ids: its sequence past the largest id."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in LOADED_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - constants
                f"GREATEST((SELECT max(id) FROM {table}), 1))"
            )


def count_loaded(finished: dict[str, dict[str, int]], users: int, chats: int) -> None:
    """Set the running totals the platform keeps as rows are written (core.tallies: finished
    outbox rows by status, users and chats), which COPY bypasses, to what was loaded; on a tree
    without them (a benchmark of an older commit) there is nothing to set."""
    try:
        from core import tallies
    except ImportError:
        return
    from django.contrib.auth import get_user_model

    from chats import signals
    from chats.models import Chat, Notification, Publication
    from core import outbox

    totals: dict[str, int] = {}
    if tally_name := getattr(outbox, "tally_name", None):
        models = {"notifications": Notification, "publications": Publication}
        for table, by_status in finished.items():
            for status, n in by_status.items():
                totals[tally_name(models[table], status)] = n
    if total_name := getattr(signals, "total_name", None):
        totals[total_name(get_user_model())] = users
        totals[total_name(Chat)] = chats
    tallies.add(totals)


LOADED_TABLES = (
    "auth_user",
    "chats_chat",
    "chats_membership",
    "chats_membershipevent",
    "chats_message",
    "chats_notification",
    "chats_publication",
    "ratelimits_refusedattempt",
)


@contextmanager
def without_indexes(tables: tuple[str, ...] = LOADED_TABLES) -> Iterator[None]:
    """Load with the tables' secondary indexes and foreign keys dropped, then build them again
    as defined (as pg_restore does): a COPY checked row by row against two foreign keys and
    maintaining five indexes takes three times as long. Primary keys and unique constraints stay.
    On an error nothing is rebuilt: the throwaway database is dropped anyway."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [list(tables)],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public'"
            " AND tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("RESET maintenance_work_mem")


def vacuum_analyze() -> None:
    """What autovacuum would have done in a year: visibility map (index-only scans) and the
    planner's statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def load_year(year: Year, rng: np.random.Generator, now: datetime) -> dict[str, int]:
    """Load the whole history of `year`, then what is in flight at `now`; the rows per table."""
    with without_indexes():
        load_users(year, rng)
        chats = load_chats(year, rng)
        notifications = load_memberships(year, chats, rng)
        times = year.times(year.messages, rng)
        publications = load_messages(year, times, 1, 1, rng)
        del times
        load_refusals(year, rng)
    move_sequences()
    count_loaded(
        {"notifications": notifications, "publications": publications}, year.users, year.chats
    )
    load_in_flight(now, chats)
    vacuum_analyze()
    return table_rows()


def table_rows() -> dict[str, int]:
    """Rows per loaded table (exact counts: the benchmark's own bookkeeping, once per size)."""
    from django.db import connection

    tables = {
        "users": "auth_user",
        "chats": "chats_chat",
        "memberships": "chats_membership",
        "membership_events": "chats_membershipevent",
        "messages": "chats_message",
        "publications": "chats_publication",
        "notifications": "chats_notification",
        "refused_attempts": "ratelimits_refusedattempt",
    }
    rows = {}
    with connection.cursor() as cursor:
        for name, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - constants
            rows[name] = cursor.fetchone()[0]
    return rows


def add_messages(
    year: Year, n: int, start: datetime, end: datetime, rng: np.random.Generator
) -> None:
    """`n` new messages in [start, end), written by the base size's users in its chats, with
    their publications, after every id loaded so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM chats_message")
        last_message = cursor.fetchone()[0] or 0
        cursor.execute("SELECT max(id) FROM chats_publication")
        last_publication = cursor.fetchone()[0] or 0
    times = np.sort(start.timestamp() + rng.random(n) * (end - start).total_seconds())
    counts = load_messages(
        year, times, last_message + 1, last_publication + 1, rng, windows=np.ones(n, dtype=bool)
    )
    move_sequences()
    count_loaded({"publications": counts}, 0, 0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chats_message")

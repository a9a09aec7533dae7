"""The demo `manage.py seed_demo` creates: weeks of plausible history, then today's welcome.

A fresh `make up` should not open on empty reports, notebooks and dashboards, so the demo holds
`HISTORY_DAYS` days of activity ending now: users joining over time, chats created over time,
members added and removed (their MembershipEvent rows), and messages with a daily and a weekly
rhythm, mostly in short threads of replies. It is deterministic: one seeded `random.Random`, and
every time is relative to `now`, so the same `now` gives the same rows.

History is written with bulk inserts and explicit past timestamps, never through
`chats.services`: weeks of past activity must not queue emails or live events (the outbox).
The membership emails those past joins and leaves would have sent are inserted already
delivered (sent with their times, a few retried, a few failed; one bad afternoon of the mail
server), so the Task health notebook has a history too, and nothing is ever queued for them.
Only today's part (the General and Random chats, their members, three welcome messages) goes
through the services, so it notifies as any real action does.

Every demo chat has `is_demo` set. History is added only while no chat outside the demo has a
message: a real database never gets fake history. Seed before the first statistics fill
(scripts/prepare.sh does): a fill counts from the first raw row, so seeded history is counted.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.template.loader import render_to_string

from core.outbox import OutboxStatus

from . import services
from .models import Chat, Membership, MembershipEvent, Message, Notification, Role
from .notifications import SUBJECTS

MAIN_USERS = ["alice", "bob", "carol", "dave"]
# Users who join over the history (with the main users: 36 accounts).
OTHER_USERS = [
    "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy",
    "quentin", "rupert", "sybil", "trent", "uma", "victor", "walter", "xena", "yusuf", "zoe",
    "amir", "bea", "chen", "dara", "emeka", "fatima", "goran", "hana", "ines", "jonas", "kofi",
    "lena",
]  # fmt: skip
HISTORY_CHATS = [
    "Book club", "Weekend plans", "Project Apollo", "Coffee corner", "Help desk",
    "Design review", "Running", "Music", "Release train", "Photography",
]  # fmt: skip
OPENERS = [
    "Morning! Anyone around?", "Did you see the new build?", "Lunch plans today?",
    "Here is the draft, comments welcome.", "Who is free for a quick call?",
    "The meeting moved to 3 pm.", "Any recommendations for this weekend?",
    "I pushed the fix, please have a look.", "Great photo from yesterday!",
    "What are you all reading at the moment?", "Reminder: demo on Friday.",
    "Can someone review my notes?", "The coffee machine is fixed.",
    "Finished chapter four, no spoilers please.", "Is the staging server down for you too?",
    "Ran 10 km this morning.", "New playlist in the shared folder.",
]  # fmt: skip
REPLIES = [
    "Sounds good.", "On it.", "Thanks!", "Count me in.", "Not yet, later today.",
    "Agreed.", "Let me check.", "Works for me.", "Ha, same here.", "Nice one!",
    "I can do 4 pm.", "Looks fine to me.", "Could you share the link?", "+1",
    "Will do after lunch.", "Good point.",
]  # fmt: skip

HISTORY_DAYS = 24
SEED = 14  # the number: any fixed value, so the same `now` gives the same rows
# Conversations started per hour at the busiest hour of a weekday with everyone on board.
PEAK_CONVERSATIONS = 9.0
# Relative activity by hour of day (UTC): a morning and an evening peak, quiet nights.
DAILY_RHYTHM = [
    0.08, 0.05, 0.04, 0.04, 0.05, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 0.95,
    0.8, 0.85, 0.9, 0.85, 0.75, 0.65, 0.7, 0.85, 0.9, 0.7, 0.4, 0.2,
]  # fmt: skip
WEEKLY_RHYTHM = [1.0, 1.0, 0.95, 1.0, 0.9, 0.55, 0.45]  # Monday first
LAST_HOUR_CONVERSATIONS = 5.0  # at least this many in the last hour: the live page shows bars
# Past membership emails: most sent within seconds, some retried, a few refused for good.
EMAIL_RETRIED = 0.06
EMAIL_REFUSED = 0.02
# One afternoon the mail server was unreachable: its emails were retried, and many gave up.
OUTAGE_DAY, OUTAGE_HOURS = 9, (14, 16)  # day of the history, [first, last) hour UTC
OUTAGE_GAVE_UP = 0.3
WELCOME = [
    ("alice", "Welcome to the demo chat!"),
    ("bob", "Hi all. Open /chat/ in two windows to see messages arrive live."),
    ("carol", "And /live/ shows the statistics as they change."),
]


@dataclass
class DemoSummary:
    """What `seed` created (history zero when it was skipped)."""

    users: int = 0
    chats: int = 0
    joins: int = 0
    leaves: int = 0
    messages: int = 0
    emails: int = 0
    history_start: datetime | None = None
    history_skipped: bool = False

    def describe(self) -> str:
        """One line for seed_demo's output."""
        text = f"{self.users} users, {self.chats} chats, {self.messages} messages"
        if self.history_start is not None:
            text += (
                f" (history since {self.history_start:%Y-%m-%d %H:%M} UTC: {self.joins} joins,"
                f" {self.leaves} leaves, {self.emails} emails already delivered; nothing queued"
                " for it)"
            )
        elif self.history_skipped:
            text += " (no history: chats outside the demo already have messages)"
        return text


def has_real_messages() -> bool:
    """True once any chat outside the demo has a message: then no fake history is added."""
    return Message.objects.filter(chat__is_demo=False).exists()


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: means here stay small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


@dataclass
class _Stint:
    """One membership: a user in a chat from `joined` until `left` (None: still a member)."""

    chat: int  # index into the history chats
    user: str
    joined: datetime
    role: str = Role.MEMBER
    left: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return self.joined <= moment and (self.left is None or moment < self.left)


@dataclass
class _Email:
    """One past membership email, as delivered: `done` is when it was sent (or given up)."""

    at: datetime
    event: str
    chat: int
    recipient: str
    subject: str  # the member who joined or left
    actor: str
    status: str
    attempts: int
    done: datetime
    error: str = ""


class _History:
    """The history as plain values (names, chat indexes, times), built before any insert."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.start = now - timedelta(days=HISTORY_DAYS)
        self.rng = random.Random(SEED)
        self.joined: dict[str, datetime] = {}
        self.weight: dict[str, float] = {}
        self.quiet_from: dict[str, datetime] = {}  # users who stop writing (the cohorts' decay)
        self.chats: list[tuple[str, str, datetime]] = []  # title, creator, created_at
        self.stints: list[_Stint] = []
        self.messages: list[tuple[datetime, int, str, str]] = []  # at, chat, author, text
        self.emails: list[_Email] = []
        self._users()
        self._chats()
        self._leaves()
        self._messages()
        self._emails()

    def _at(self, day: float) -> datetime:
        return self.start + timedelta(days=day)

    def _users(self) -> None:
        rng = self.rng
        for i, name in enumerate(MAIN_USERS):
            self.joined[name] = self._at(0) + timedelta(minutes=5 * i)
        for i, name in enumerate(OTHER_USERS):
            # A few on the first days, then one or two a day: weekly cohorts of different sizes.
            day = rng.uniform(0.1, 2) if i < 6 else rng.uniform(2, HISTORY_DAYS - 0.5)
            self.joined[name] = self._at(day).replace(hour=rng.randint(8, 20))
            if self.joined[name] < self.start:
                self.joined[name] += timedelta(days=1)
            if self.joined[name] >= self.now:
                self.joined[name] = self.now - timedelta(hours=rng.randint(2, 6))
        days = [(self.start + timedelta(days=d)).date() for d in range(HISTORY_DAYS + 1)]
        self.days_off: set[tuple[str, object]] = set()  # DAU below WAU: not everyone every day
        for name in self.joined:
            self.weight[name] = rng.lognormvariate(0, 0.8)
            presence = 1.0 if name in MAIN_USERS else rng.uniform(0.35, 0.95)
            self.days_off.update((name, day) for day in days if rng.random() > presence)
            if name not in MAIN_USERS and rng.random() < 0.35:
                self.quiet_from[name] = self.joined[name] + timedelta(days=rng.uniform(1, 9))

    def _users_by(self, moment: datetime) -> list[str]:
        return [name for name, at in self.joined.items() if at <= moment]

    def _chats(self) -> None:
        rng = self.rng
        for i, title in enumerate(HISTORY_CHATS):
            day = rng.uniform(0.05, 0.5) if i < 3 else rng.uniform(1, HISTORY_DAYS - 3)
            created = self._at(day) + timedelta(minutes=30)
            creator = rng.choice(self._users_by(created))
            self.chats.append((title, creator, created))
            self.stints.append(_Stint(i, creator, created, Role.OWNER))
            others = [u for u in self._users_by(created) if u != creator]
            for user in rng.sample(others, min(len(others), rng.randint(2, 5))):
                role = Role.ADMIN if rng.random() < 0.2 else Role.MEMBER
                added = created + timedelta(minutes=rng.randint(1, 90))
                self.stints.append(_Stint(i, user, added, role))
        # Each user also joins a few chats that exist when they sign up (or soon after).
        for user, joined in self.joined.items():
            for i in rng.sample(range(len(self.chats)), rng.randint(1, 4)):
                title, creator, created = self.chats[i]
                if any(s.chat == i and s.user == user for s in self.stints):
                    continue
                added = max(joined, created) + timedelta(hours=rng.uniform(0.1, 30))
                if added < self.now - timedelta(hours=1):
                    self.stints.append(_Stint(i, user, added))

    def _leaves(self) -> None:
        """Some members leave a chat for good (an owner never leaves)."""
        for stint in self.stints:
            if stint.role != Role.OWNER and self.rng.random() < 0.12:
                left = stint.joined + timedelta(days=self.rng.uniform(0.5, 10))
                if left < self.now - timedelta(hours=1):
                    stint.left = left

    def _writers(self, chat: int, moment: datetime) -> list[str]:
        return [
            s.user
            for s in self.stints
            if s.chat == chat
            and s.covers(moment)
            and (s.user not in self.quiet_from or moment < self.quiet_from[s.user])
            and (s.user, moment.date()) not in self.days_off
        ]

    def _messages(self) -> None:
        rng = self.rng
        hour = self.start.replace(minute=0, second=0, microsecond=0)
        total_weight = sum(self.weight.values())
        while hour < self.now:
            present = sum(self.weight[u] for u in self._users_by(hour))
            mean = (
                PEAK_CONVERSATIONS
                * DAILY_RHYTHM[hour.hour]
                * WEEKLY_RHYTHM[hour.weekday()]
                * (0.3 + 0.7 * present / total_weight)
            )
            if hour + timedelta(hours=2) > self.now:
                mean = max(mean, LAST_HOUR_CONVERSATIONS)  # the last hour and the one before
            for _ in range(_poisson(rng, mean)):
                self._conversation(hour + timedelta(seconds=rng.uniform(0, 3600)))
            hour += timedelta(hours=1)
        self.messages.sort()

    def _conversation(self, at: datetime) -> None:
        """An opener in a chat, often followed by replies from other members minutes later."""
        rng = self.rng
        open_chats = [i for i, (_, _, created) in enumerate(self.chats) if created <= at]
        if not open_chats:
            return
        chat = rng.choices(open_chats, weights=[1 + (i % 4) for i in open_chats])[0]
        writers = self._writers(chat, at)
        if len(writers) < 2:
            return
        author = rng.choices(writers, weights=[self.weight[u] for u in writers])[0]
        text = rng.choice(OPENERS)
        reply_chance = 0.75
        while at < self.now:
            self.messages.append((at, chat, author, text))
            if rng.random() > reply_chance:
                break
            reply_chance *= 0.6
            at += timedelta(seconds=rng.uniform(20, 900))
            others = [u for u in self._writers(chat, at) if u != author]
            if not others:
                break
            author = rng.choice(others)
            text = rng.choice(REPLIES)

    def _admins(self, chat: int, moment: datetime) -> list[str]:
        return [
            s.user
            for s in self.stints
            if s.chat == chat and s.role != Role.MEMBER and s.covers(moment)
        ]

    def _emails(self) -> None:
        """The emails the past joins and leaves sent to the chat's other owner and admins (as
        chats.notifications records them), with their outcome. Its own random stream: the
        rows above stay as they were."""
        rng = random.Random(SEED + 1)
        for stint in self.stints:
            if stint.role == Role.OWNER:
                continue  # the creator: the chat's first member, nobody to tell
            changes = [(stint.joined, Notification.Event.MEMBER_ADDED)]
            if stint.left:
                changes.append((stint.left, Notification.Event.MEMBER_REMOVED))
            for at, event in changes:
                admins = [u for u in self._admins(stint.chat, at) if u != stint.user]
                if not admins:
                    continue
                # Added by one of the admins; a member who leaves does it themselves.
                actor = rng.choice(admins) if event == Notification.Event.MEMBER_ADDED else None
                for recipient in admins:
                    if recipient != actor:
                        self.emails.append(
                            self._delivered(rng, at, event, stint, recipient, actor or stint.user)
                        )
        self.emails.sort(key=lambda email: email.at)

    def _delivered(
        self, rng: random.Random, at: datetime, event: str, stint: _Stint, recipient: str,
        actor: str,
    ) -> _Email:  # fmt: skip
        """The outcome: sent in about a second, or after retries (backoff up to a minute), or
        refused (5xx, one attempt), or given up after every attempt during the outage."""
        email = _Email(
            at, event, stint.chat, recipient, stint.user, actor, OutboxStatus.SENT, 1, at
        )
        latency = rng.lognormvariate(math.log(1.2), 0.5)
        outage_day = (self.start + timedelta(days=OUTAGE_DAY)).date()
        if at.date() == outage_day and OUTAGE_HOURS[0] <= at.hour < OUTAGE_HOURS[1]:
            email.attempts = rng.randint(3, settings.NOTIFICATION_MAX_ATTEMPTS)
            latency += sum(min(2**k, 60) * rng.uniform(0.5, 1) for k in range(email.attempts))
            if rng.random() < OUTAGE_GAVE_UP:
                email.status, email.attempts = (
                    OutboxStatus.FAILED,
                    settings.NOTIFICATION_MAX_ATTEMPTS,
                )
                email.error = "SMTPConnectError: 421 4.3.2 Service not available, try again later"
        elif rng.random() < EMAIL_REFUSED:
            email.status = OutboxStatus.FAILED
            email.error = (
                f"SMTPRecipientsRefused: 550 5.1.1 <{recipient}@example.com>: mailbox unavailable"
            )
        elif rng.random() < EMAIL_RETRIED:
            email.attempts = rng.randint(2, 3)
            latency += sum(min(2**k, 60) * rng.uniform(0.5, 1) for k in range(email.attempts))
        email.done = at + timedelta(seconds=latency)
        return email


def _insert_emails(history: _History, user_ids: dict[str, int], chat_ids: list[int]) -> None:
    """The past emails, finished (sent or failed): never pending, so never queued or sent."""
    rows = []
    for email in history.emails:
        title = history.chats[email.chat][0]
        context = {
            "chat_title": title,
            "chat_id": chat_ids[email.chat],
            "event": email.event,
            "actor": email.actor,
            "subject": email.subject,
            "recipient": email.recipient,
        }
        rows.append(
            Notification(
                event=email.event,
                chat_id=chat_ids[email.chat],
                recipient_id=user_ids[email.recipient],
                recipient_email=f"{email.recipient}@example.com",
                subject=SUBJECTS[email.event].format(chat=title, subject=email.subject),
                body_text=render_to_string(f"chats/email/{email.event}.txt", context),
                body_html=render_to_string(f"chats/email/{email.event}.html", context),
                status=email.status,
                attempts=email.attempts,
                last_error=email.error,
                created_at=email.at,
                updated_at=email.done,
                done_at=email.done,
            )
        )
    Notification.objects.bulk_create(rows, batch_size=500)


def _insert_history(history: _History, password_hash: str) -> dict:
    """Bulk-insert the history (no services: no outbox rows); returns the main users by name."""
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(
            username=name,
            email=f"{name}@example.com",
            password=password_hash,
            date_joined=joined,
            last_login=None,
        )
        for name, joined in sorted(history.joined.items(), key=lambda item: item[1])
    )
    user_ids = {user.username: user.pk for user in users}
    chats = Chat.objects.bulk_create(
        Chat(title=title, created_by_id=user_ids[creator], created_at=created, is_demo=True)
        for title, creator, created in history.chats
    )
    chat_ids = [chat.pk for chat in chats]
    Membership.objects.bulk_create(
        Membership(
            chat_id=chat_ids[s.chat], user_id=user_ids[s.user], role=s.role, joined_at=s.joined
        )
        for s in history.stints
        if s.left is None
    )
    events = [(s.joined, MembershipEvent.Kind.JOIN, s) for s in history.stints]
    events += [(s.left, MembershipEvent.Kind.LEAVE, s) for s in history.stints if s.left]
    events.sort(key=lambda event: (event[0], event[1]))
    MembershipEvent.objects.bulk_create(
        (
            MembershipEvent(chat_id=chat_ids[s.chat], user_id=user_ids[s.user], kind=kind, at=at)
            for at, kind, s in events
        ),
        batch_size=2000,
    )
    Message.objects.bulk_create(
        (
            Message(chat_id=chat_ids[chat], author_id=user_ids[author], text=text, created_at=at)
            for at, chat, author, text in history.messages
        ),
        batch_size=2000,
    )
    _insert_emails(history, user_ids, chat_ids)
    by_name = {user.username: user for user in users}
    return {name: by_name[name] for name in MAIN_USERS}


def seed(now: datetime, password: str) -> DemoSummary:
    """Create the demo: history (unless real messages exist), then today's welcome through the
    services. The caller checks that no demo exists yet and holds the transaction."""
    summary = DemoSummary()
    password_hash = make_password(password)  # hashed once: hashing per user would take minutes
    if has_real_messages():
        user_model = get_user_model()
        users = {
            name: user_model.objects.create(
                username=name, email=f"{name}@example.com", password=password_hash
            )
            for name in MAIN_USERS
        }
        summary.users, summary.history_skipped = len(users), True
    else:
        history = _History(now)
        users = _insert_history(history, password_hash)
        summary.users, summary.chats = len(history.joined), len(history.chats)
        summary.joins = len(history.stints)
        summary.leaves = sum(1 for s in history.stints if s.left)
        summary.messages, summary.history_start = len(history.messages), history.start
        summary.emails = len(history.emails)
    alice = users["alice"]
    alice.is_staff = alice.is_superuser = True
    alice.save(update_fields=["is_staff", "is_superuser"])
    general = services.create_chat(title="General", creator_id=alice.pk)
    services.add_member(
        chat_id=general.pk, actor_id=alice.pk, user_id=users["bob"].pk, role=Role.ADMIN
    )
    for name in ("carol", "dave"):
        services.add_member(chat_id=general.pk, actor_id=alice.pk, user_id=users[name].pk)
    random_chat = services.create_chat(title="Random", creator_id=users["bob"].pk)
    services.add_member(chat_id=random_chat.pk, actor_id=users["bob"].pk, user_id=alice.pk)
    for author, text in WELCOME:
        services.post_message(chat_id=general.pk, author_id=users[author].pk, text=text)
    Chat.objects.filter(pk__in=[general.pk, random_chat.pk]).update(is_demo=True)
    summary.chats += 2
    summary.messages += len(WELCOME)
    return summary

"""The demo `manage.py seed_demo` creates: weeks of plausible history, then today's welcome.

A fresh `make up` should not open on empty reports, notebooks and dashboards, so the demo holds
`HISTORY_DAYS` days of activity ending now: users joining over time, chats created over time,
members added and removed (their MembershipEvent rows), and messages with a daily and a weekly
rhythm, mostly in short threads of replies. It is deterministic: one seeded `random.Random`, and
every time is relative to `now`, so the same `now` gives the same rows.

History is written with bulk inserts and explicit past timestamps, never through
`chats.services`: weeks of past activity must not queue emails or live events (the outbox).
The membership emails those past joins and leaves would have sent are inserted already
delivered, so the Task health notebook has a history too. The modules: `cast` (users, chats,
memberships), `conversations` (messages), `emails`, and `history` (plans it all, inserts it).
Only today's part (the General and Random chats, their members, three welcome messages) goes
through the services, so it notifies as any real action does.

Every demo chat has `is_demo` set. History is added only while no chat outside the demo has a
message: a real database never gets fake history. Seed before the first statistics fill
(scripts/prepare.sh does): a fill counts from the first raw row, so seeded history is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from accounts import profiles
from accounts.models import AddPolicy
from chats import services
from chats.models import Chat, Message, Role

from . import history as past
from .cast import MAIN_USERS, OTHER_USERS
from .history import HISTORY_DAYS

__all__ = ["HISTORY_DAYS", "MAIN_USERS", "OTHER_USERS", "WELCOME", "DemoSummary", "seed"]

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
        history = past.plan(now)
        users = past.insert(history, password_hash)
        people = history.cast
        summary.users, summary.chats = len(people.joined), len(people.chats)
        summary.joins = len(people.stints)
        summary.leaves = sum(1 for s in people.stints if s.left)
        summary.messages, summary.history_start = len(history.messages), history.start
        summary.emails = len(history.emails)
    # Today's welcome adds the main users to each other's chats with services.add_member, which
    # only their setting's consent allows: anyone may add them (and their addresses, fictional
    # example.com ones, are confirmed, so the admins' emails of those joins go out).
    profiles.confirm_all(users.values(), who_can_add=AddPolicy.EVERYONE)
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

"""The demo's weeks of history: planned as plain values (chats.demo.cast, .conversations,
.emails), then bulk-inserted with explicit past timestamps, never through `chats.services`:
weeks of past activity must not queue emails or live events (the outbox)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from accounts import profiles
from chats.models import Chat, Membership, MembershipEvent, Message, Notification
from core import tallies
from core.outbox import tally_name

from . import conversations, emails
from .cast import MAIN_USERS, Cast, cast

HISTORY_DAYS = 24
SEED = 14  # the number: any fixed value, so the same `now` gives the same rows


@dataclass
class History:
    start: datetime
    cast: Cast
    messages: list[conversations.Message]
    emails: list[emails.Email]


def plan(now: datetime) -> History:
    """The history of the `HISTORY_DAYS` days before `now`, the same for the same `now`. The
    emails draw from their own random stream: adding them left the other rows as they were."""
    start = now - timedelta(days=HISTORY_DAYS)
    rng = random.Random(SEED)
    people = cast(rng, start, now)
    messages = conversations.messages(rng, people, start, now)
    return History(start, people, messages, emails.emails(random.Random(SEED + 1), people, start))


def insert(history: History, password_hash: str) -> dict:
    """Bulk-insert the history (no services: no outbox rows); returns the main users by name."""
    people = history.cast
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(
            username=name,
            email=f"{name}@example.com",
            password=password_hash,
            date_joined=joined,
            last_login=None,
        )
        for name, joined in sorted(people.joined.items(), key=lambda item: item[1])
    )
    # The demo's people are fictional, their example.com addresses known good: confirmed, so
    # their admin emails go out (accounts.profiles.receives_email). Who may add them stays the
    # default; the main users, whom today's welcome adds directly, get EVERYONE in `seed`.
    profiles.confirm_all(users)
    user_ids = {user.username: user.pk for user in users}
    chats = Chat.objects.bulk_create(
        Chat(title=title, created_by_id=user_ids[creator], created_at=created, is_demo=True)
        for title, creator, created in people.chats
    )
    chat_ids = [chat.pk for chat in chats]
    Membership.objects.bulk_create(
        Membership(
            chat_id=chat_ids[s.chat], user_id=user_ids[s.user], role=s.role, joined_at=s.joined
        )
        for s in people.stints
        if s.left is None
    )
    events = [(s.joined, MembershipEvent.Kind.JOIN, s) for s in people.stints]
    events += [(s.left, MembershipEvent.Kind.LEAVE, s) for s in people.stints if s.left]
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
    notifications = Notification.objects.bulk_create(
        emails.notifications(history.emails, people, user_ids, chat_ids), batch_size=500
    )
    # Bulk inserts send no signals: the running totals the services keep are added here.
    finished = Counter(tally_name(Notification, n.status) for n in notifications)
    tallies.add({"users": len(users), "chats": len(chats), **finished})
    by_name = {user.username: user for user in users}
    return {name: by_name[name] for name in MAIN_USERS}

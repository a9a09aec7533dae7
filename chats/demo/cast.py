"""Who is in the demo's history and where: users joining over the weeks, the chats they create,
and every membership (a stint, some ending in a leave). Plain values, no rows yet."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chats.models import Role

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


@dataclass
class Stint:
    """One membership: a user in a chat from `joined` until `left` (None: still a member)."""

    chat: int  # index into Cast.chats
    user: str
    joined: datetime
    role: str = Role.MEMBER
    left: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return self.joined <= moment and (self.left is None or moment < self.left)


@dataclass
class Cast:
    """The users (when they joined, how much they write, when they are away) and the chats."""

    joined: dict[str, datetime] = field(default_factory=dict)
    weight: dict[str, float] = field(default_factory=dict)
    days_off: set[tuple[str, date]] = field(default_factory=set)  # DAU below WAU
    quiet_from: dict[str, datetime] = field(default_factory=dict)  # the cohorts' decay
    chats: list[tuple[str, str, datetime]] = field(default_factory=list)  # title, creator, at
    stints: list[Stint] = field(default_factory=list)

    def users_by(self, moment: datetime) -> list[str]:
        return [name for name, at in self.joined.items() if at <= moment]

    def writers(self, chat: int, moment: datetime) -> list[str]:
        """The members of `chat` who may write at `moment`: present that day, not gone quiet."""
        return [
            s.user
            for s in self.stints
            if s.chat == chat
            and s.covers(moment)
            and (s.user not in self.quiet_from or moment < self.quiet_from[s.user])
            and (s.user, moment.date()) not in self.days_off
        ]

    def admins(self, chat: int, moment: datetime) -> list[str]:
        """Its owner and admins at `moment`: the recipients of its membership emails."""
        return [
            s.user
            for s in self.stints
            if s.chat == chat and s.role != Role.MEMBER and s.covers(moment)
        ]


def cast(rng: random.Random, start: datetime, now: datetime) -> Cast:
    """Users, then chats and their members, then the leaves, drawn from `rng` in that order."""
    found = Cast()
    _users(found, rng, start, now)
    _chats(found, rng, start, now)
    _leaves(found, rng, now)
    return found


def _users(cast: Cast, rng: random.Random, start: datetime, now: datetime) -> None:
    days = (now - start).days
    for i, name in enumerate(MAIN_USERS):
        cast.joined[name] = start + timedelta(minutes=5 * i)
    for i, name in enumerate(OTHER_USERS):
        # A few on the first days, then one or two a day: weekly cohorts of different sizes.
        day = rng.uniform(0.1, 2) if i < 6 else rng.uniform(2, days - 0.5)
        joined = (start + timedelta(days=day)).replace(hour=rng.randint(8, 20))
        if joined < start:
            joined += timedelta(days=1)
        if joined >= now:
            joined = now - timedelta(hours=rng.randint(2, 6))
        cast.joined[name] = joined
    dates = [(start + timedelta(days=d)).date() for d in range(days + 1)]
    for name in cast.joined:
        cast.weight[name] = rng.lognormvariate(0, 0.8)
        presence = 1.0 if name in MAIN_USERS else rng.uniform(0.35, 0.95)
        cast.days_off.update((name, day) for day in dates if rng.random() > presence)
        if name not in MAIN_USERS and rng.random() < 0.35:
            cast.quiet_from[name] = cast.joined[name] + timedelta(days=rng.uniform(1, 9))


def _chats(cast: Cast, rng: random.Random, start: datetime, now: datetime) -> None:
    days = (now - start).days
    for i, title in enumerate(HISTORY_CHATS):
        day = rng.uniform(0.05, 0.5) if i < 3 else rng.uniform(1, days - 3)
        created = start + timedelta(days=day) + timedelta(minutes=30)
        creator = rng.choice(cast.users_by(created))
        cast.chats.append((title, creator, created))
        cast.stints.append(Stint(i, creator, created, Role.OWNER))
        others = [u for u in cast.users_by(created) if u != creator]
        for user in rng.sample(others, min(len(others), rng.randint(2, 5))):
            role = Role.ADMIN if rng.random() < 0.2 else Role.MEMBER
            added = created + timedelta(minutes=rng.randint(1, 90))
            cast.stints.append(Stint(i, user, added, role))
    # Each user also joins a few chats that exist when they sign up (or soon after).
    for user, joined in cast.joined.items():
        for i in rng.sample(range(len(cast.chats)), rng.randint(1, 4)):
            created = cast.chats[i][2]
            if any(s.chat == i and s.user == user for s in cast.stints):
                continue
            added = max(joined, created) + timedelta(hours=rng.uniform(0.1, 30))
            if added < now - timedelta(hours=1):
                cast.stints.append(Stint(i, user, added))


def _leaves(cast: Cast, rng: random.Random, now: datetime) -> None:
    """Some members leave a chat for good (an owner never leaves)."""
    for stint in cast.stints:
        if stint.role != Role.OWNER and rng.random() < 0.12:
            left = stint.joined + timedelta(days=rng.uniform(0.5, 10))
            if left < now - timedelta(hours=1):
                stint.left = left

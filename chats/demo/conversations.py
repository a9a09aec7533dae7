"""The demo's messages: conversations with a daily and a weekly rhythm, mostly an opener and a
short thread of replies from the chat's other members minutes later."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from .cast import Cast

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
# Conversations started per hour at the busiest hour of a weekday with everyone on board.
PEAK_CONVERSATIONS = 9.0
# Relative activity by hour of day (UTC): a morning and an evening peak, quiet nights.
DAILY_RHYTHM = [
    0.08, 0.05, 0.04, 0.04, 0.05, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 0.95,
    0.8, 0.85, 0.9, 0.85, 0.75, 0.65, 0.7, 0.85, 0.9, 0.7, 0.4, 0.2,
]  # fmt: skip
WEEKLY_RHYTHM = [1.0, 1.0, 0.95, 1.0, 0.9, 0.55, 0.45]  # Monday first
LAST_HOUR_CONVERSATIONS = 5.0  # at least this many in the last hour: the live page shows bars

Message = tuple[datetime, int, str, str]  # at, chat index, author, text


def messages(rng: random.Random, cast: Cast, start: datetime, now: datetime) -> list[Message]:
    """Every message from `start` to `now`, sorted by time: each hour a Poisson number of
    conversations, more at busy hours and days and as more users have joined."""
    found: list[Message] = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    total_weight = sum(cast.weight.values())
    while hour < now:
        present = sum(cast.weight[u] for u in cast.users_by(hour))
        mean = (
            PEAK_CONVERSATIONS
            * DAILY_RHYTHM[hour.hour]
            * WEEKLY_RHYTHM[hour.weekday()]
            * (0.3 + 0.7 * present / total_weight)
        )
        if hour + timedelta(hours=2) > now:
            mean = max(mean, LAST_HOUR_CONVERSATIONS)  # the last hour and the one before
        for _ in range(_poisson(rng, mean)):
            at = hour + timedelta(seconds=rng.uniform(0, 3600))
            found += _conversation(rng, cast, at, now)
        hour += timedelta(hours=1)
    return sorted(found)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: means here stay small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _conversation(rng: random.Random, cast: Cast, at: datetime, now: datetime) -> list[Message]:
    """An opener in a chat, often followed by replies from other members minutes later."""
    open_chats = [i for i, (_, _, created) in enumerate(cast.chats) if created <= at]
    if not open_chats:
        return []
    chat = rng.choices(open_chats, weights=[1 + (i % 4) for i in open_chats])[0]
    writers = cast.writers(chat, at)
    if len(writers) < 2:
        return []
    author = rng.choices(writers, weights=[cast.weight[u] for u in writers])[0]
    text = rng.choice(OPENERS)
    found = []
    reply_chance = 0.75
    while at < now:
        found.append((at, chat, author, text))
        if rng.random() > reply_chance:
            break
        reply_chance *= 0.6
        at += timedelta(seconds=rng.uniform(20, 900))
        others = [u for u in cast.writers(chat, at) if u != author]
        if not others:
            break
        author = rng.choice(others)
        text = rng.choice(REPLIES)
    return found

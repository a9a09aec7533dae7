"""The metrics tests' fixtures: generated activity at fixed times, and its snapshot in a real
Redis. The times and the shape of the activity are in `metrics.tests.support`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chats.models import Chat, MembershipEvent, Message
from metrics import fill, snapshot

from .support import SNAPSHOT_AT, T0, Activity, User, hm


@pytest.fixture
def activity(db: None) -> Activity:
    """Three users, two chats, seven messages over two days (see the expected tables in tests).

    alice joined two days before T0, bob at 01:30, carol at 26:00 (day 1, 02:00).
    """
    alice = User.objects.create(username="alice", date_joined=T0 - timedelta(days=2))
    bob = User.objects.create(username="bob", date_joined=hm(1, 30))
    carol = User.objects.create(username="carol", date_joined=hm(26, 0))
    chat_a = Chat.objects.create(title="Alpha", created_by=alice, created_at=hm(0, 10))
    chat_b = Chat.objects.create(title="Beta", created_by=carol, created_at=hm(25, 0))
    MembershipEvent.objects.bulk_create(
        [
            MembershipEvent(chat_id=chat_a.pk, user_id=alice.pk, kind="join", at=hm(0, 10)),
            MembershipEvent(chat_id=chat_a.pk, user_id=bob.pk, kind="join", at=hm(1, 30)),
            MembershipEvent(chat_id=chat_b.pk, user_id=carol.pk, kind="join", at=hm(25, 0)),
            MembershipEvent(chat_id=chat_b.pk, user_id=alice.pk, kind="join", at=hm(25, 0)),
            MembershipEvent(chat_id=chat_a.pk, user_id=bob.pk, kind="leave", at=hm(27, 30)),
        ]
    )
    for chat, author, moment in [
        (chat_a, alice, hm(0, 15)),
        (chat_a, alice, hm(0, 45)),
        (chat_a, bob, hm(1, 40)),
        (chat_a, bob, hm(3, 5)),
        (chat_b, carol, hm(26, 10)),
        (chat_b, alice, hm(26, 20)),
        (chat_a, carol, hm(26, 50)),
    ]:
        Message.objects.create(chat=chat, author=author, text="hi", created_at=moment)
    return Activity(alice, bob, carol, chat_a, chat_b)


@pytest.fixture
def stored(activity: Activity, redis_service: object) -> dict:
    """The snapshot of `activity` at SNAPSHOT_AT, stored in a real Redis, with one failed task
    in the last hour (and one older)."""
    snapshot.redis_client().flushdb()
    fill.fill_activity_counts(until=SNAPSHOT_AT)
    snapshot.record_task_failure(at=(SNAPSHOT_AT - timedelta(minutes=5)).timestamp())
    snapshot.record_task_failure(at=(SNAPSHOT_AT - timedelta(minutes=70)).timestamp())  # too old
    return snapshot.refresh_snapshot(now=SNAPSHOT_AT)

"""seed_demo: weeks of deterministic, marked demo history, never through the outbox, never on a
database with real messages (metrics/tests/test_demo_fill.py: a fill afterwards counts it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import DEFAULT_ADD_POLICY, AddPolicy, Profile
from chats import demo, services
from chats.models import Chat, Membership, MembershipEvent, Message, Notification, Publication
from core import tallies
from core.outbox import tally_name

User = get_user_model()
NOW = datetime(2025, 3, 18, 14, 37, tzinfo=UTC)  # a Tuesday afternoon

pytestmark = pytest.mark.django_db


def rows() -> dict[str, list[tuple]]:
    """Every demo row by its content (names, titles, times), not by database ids."""
    names = dict(User.objects.values_list("id", "username"))
    titles = dict(Chat.objects.values_list("id", "title"))
    return {
        "users": sorted(User.objects.values_list("username", "date_joined", "is_staff")),
        "chats": sorted(  # today's General and Random are created now, through the services
            Chat.objects.filter(created_at__lt=NOW).values_list("title", "created_at", "is_demo")
        ),
        "events": sorted(
            (titles[e.chat_id], names[e.user_id], e.kind, e.at)
            for e in MembershipEvent.objects.exclude(chat_id__in=general_and_random())
        ),
        "messages": sorted(
            (m.chat.title, m.author.username, m.text, m.created_at)
            for m in Message.objects.select_related("chat", "author").filter(created_at__lt=NOW)
        ),
        "emails": sorted(
            Notification.objects.filter(created_at__lt=NOW - timedelta(hours=1)).values_list(
                "subject", "recipient_email", "status", "attempts", "created_at", "done_at"
            )
        ),
    }


def general_and_random() -> list[int]:
    return list(Chat.objects.filter(title__in=["General", "Random"]).values_list("id", flat=True))


def seed(now: datetime = NOW) -> demo.DemoSummary:
    return demo.seed(now, "demo-password")


def test_the_same_now_gives_the_same_rows() -> None:
    seed()
    first = rows()
    for model in (Notification, Message, Membership, MembershipEvent, Chat, User):
        model.objects.all().delete()
    seed()
    assert rows() == first
    assert len(first["messages"]) > 2000
    # Weeks of history up to the last hour (the live page's per-minute chart has bars).
    times = [m[3] for m in first["messages"]]
    assert min(times) <= NOW - timedelta(days=21)
    assert sum(1 for t in times if t >= NOW - timedelta(hours=1)) >= 3


def test_history_has_shape_and_the_demo_is_marked() -> None:
    summary = seed()
    assert summary.history_start == NOW - timedelta(days=demo.HISTORY_DAYS)
    assert summary.leaves > 0
    assert User.objects.count() == len(demo.MAIN_USERS) + len(demo.OTHER_USERS)
    # Users joined over the weeks, not all at once; chats too.
    joined = User.objects.values_list("date_joined", flat=True)
    assert len({t.date() for t in joined}) >= 10
    assert len({t.date() for t in Chat.objects.values_list("created_at", flat=True)}) >= 5
    # Every chat is demo data, and a member who left holds no membership any more.
    assert set(Chat.objects.values_list("is_demo", flat=True)) == {True}
    leave = MembershipEvent.objects.filter(kind=MembershipEvent.Kind.LEAVE).first()
    assert not Membership.objects.filter(chat_id=leave.chat_id, user_id=leave.user_id).exists()
    # A daily rhythm: the busiest hour of the day has many times the quietest.
    by_hour = [0] * 24
    for t in Message.objects.values_list("created_at", flat=True):
        by_hour[t.hour] += 1
    assert max(by_hour) > 5 * min(by_hour)
    assert User.objects.get(username="alice").is_staff


def test_history_queues_no_email_and_no_live_event() -> None:
    """Only today's part (members added to General and Random, 3 messages) uses the outbox;
    the past emails are inserted finished, so nothing ever queues or sends them."""
    summary = seed()
    old = NOW - timedelta(hours=1)
    past = Notification.objects.exclude(chat_id__in=general_and_random())
    assert past.count() == summary.emails
    assert set(past.values_list("status", flat=True)) == {"sent", "failed"}
    assert not past.filter(created_at__gte=NOW).exists()
    assert not past.filter(done_at__isnull=True).exists()
    assert not Publication.objects.filter(created_at__lt=old).exists()
    # Publications: today's member changes and the 3 welcome messages, nothing for weeks.
    assert Publication.objects.count() < 20
    assert Message.objects.filter(chat_id__in=general_and_random()).count() == len(demo.WELCOME)


def test_past_emails_give_the_task_health_notebook_a_history() -> None:
    """Delivered over the weeks, mostly sent within seconds, some retried, a few failed (one
    bad afternoon among them), each to an admin of the chat about a real join or leave."""
    summary = seed()
    past = Notification.objects.exclude(chat_id__in=general_and_random())
    assert summary.emails >= 50
    assert len({at.date() for at in past.values_list("created_at", flat=True)}) >= 10
    sent = past.filter(status="sent")
    assert sent.count() > 0.8 * summary.emails
    assert all(timedelta(0) < n.done_at - n.created_at < timedelta(minutes=10) for n in sent)
    assert past.filter(status="failed").exists()
    assert past.filter(attempts__gt=1, status="sent").exists()
    assert {n.event for n in past} == {"member_added", "member_removed"}
    names = dict(User.objects.values_list("id", "username"))
    for email in past.filter(event="member_added")[:20]:
        joined = MembershipEvent.objects.get(
            chat_id=email.chat_id, kind="join", at=email.created_at
        )
        assert names[joined.user_id] in email.subject
        assert email.recipient_id != joined.user_id


def test_the_demo_adds_its_bulk_inserted_rows_to_the_running_totals() -> None:
    """Bulk inserts send no signals: the snapshot's totals would otherwise start below the rows
    the demo shows (and stay so, since they are never recounted)."""
    seed()
    names = {"sent": tally_name(Notification, "sent"), "failed": tally_name(Notification, "failed")}
    totals = tallies.values(["users", "chats", *names.values()])
    assert totals["users"] == User.objects.count()
    assert totals["chats"] == Chat.objects.count()
    for status, name in names.items():
        assert totals[name] == Notification.objects.filter(status=status).count() > 0


def test_the_demo_people_are_confirmed_and_today_s_joins_email_the_admins() -> None:
    """Admin emails go only to confirmed addresses: the demo's (fictional) people have theirs
    confirmed. The main users, whom today's welcome adds directly, let anyone add them; the
    others keep the default, so adding one of them invites them."""
    seed()
    profiles = {p.user.username: p for p in Profile.objects.select_related("user")}
    assert set(profiles) == set(demo.MAIN_USERS) | set(demo.OTHER_USERS)
    assert all(profile.is_confirmed for profile in profiles.values())
    policies = {name: profile.who_can_add for name, profile in profiles.items()}
    assert {policies[name] for name in demo.MAIN_USERS} == {AddPolicy.EVERYONE}
    assert {policies[name] for name in demo.OTHER_USERS} == {DEFAULT_ADD_POLICY}
    # Alice added carol and dave to General: bob, its other admin, is emailed about each.
    general = Chat.objects.get(title="General")
    assert sorted(
        Notification.objects.filter(chat_id=general.pk).values_list("recipient_email", "subject")
    ) == [
        ("bob@example.com", "[General] carol joined the chat"),
        ("bob@example.com", "[General] dave joined the chat"),
    ]


def test_no_history_once_a_real_chat_has_messages() -> None:
    owner = User.objects.create_user("real", "real@example.com", "x")
    chat = services.create_chat(title="Our team", creator_id=owner.pk)
    services.post_message(chat_id=chat.pk, author_id=owner.pk, text="real work")
    summary = seed()
    assert summary.history_skipped and summary.history_start is None
    assert Message.objects.count() == 1 + len(demo.WELCOME)
    assert Chat.objects.filter(is_demo=True).count() == 2
    assert not Chat.objects.get(pk=chat.pk).is_demo
    # Without history, the main users are created on their own: confirmed all the same.
    confirmed = Profile.objects.filter(who_can_add=AddPolicy.EVERYONE)
    assert sorted(p.user.username for p in confirmed if p.is_confirmed) == sorted(demo.MAIN_USERS)
    assert not Profile.objects.filter(user=owner).exists()  # a real user is not the demo's


def test_seed_demo_twice_creates_nothing_the_second_time(settings) -> None:
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo data created: 36 users, 12 chats" in out.getvalue()
    counts = [model.objects.count() for model in (User, Chat, MembershipEvent, Message)]
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "nothing created" in out.getvalue()
    assert [model.objects.count() for model in (User, Chat, MembershipEvent, Message)] == counts

"""The incremental fill against exact expected tables on activity with fixed times."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from chats.models import Chat, Message
from core import tallies
from metrics import fill, selectors
from metrics.models import FillState, HourlyCount

from .support import T0, Activity, at, dump, hm

User = get_user_model()
UNTIL = at(48)  # the end of day 1: days 0 and 1, hours up to 47, are complete
D0, D1, D2 = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)


def hourly_totals() -> dict[str, dict[int, int]]:
    """stat -> {hour offset from T0: value} for the totals (chat_id null)."""
    out: dict[str, dict[int, int]] = {}
    for stat, chat_id, hour, value in dump()["hourly"]:
        if chat_id is None:
            out.setdefault(stat, {})[int((hour - T0).total_seconds() // 3600)] = value
    return out


def test_counts_match_the_expected_tables(activity: Activity) -> None:
    fill.fill_activity_counts(until=UNTIL)
    a, b = activity.chat_a.pk, activity.chat_b.pk
    alice, bob, carol = activity.alice.pk, activity.bob.pk, activity.carol.pk

    assert hourly_totals() == {
        "messages_sent": {0: 2, 1: 1, 3: 1, 26: 3},
        "active_users": {0: 1, 1: 1, 3: 1, 26: 2},
        "active_chats": {0: 1, 1: 1, 3: 1, 26: 2},
        "new_users": {-48: 1, 1: 1, 26: 1},
        "chats_created": {0: 1, 25: 1},
        "joins": {0: 1, 1: 1, 25: 2},
        "leaves": {27: 1},
    }
    per_chat = sorted(
        (chat_id, int((hour - T0).total_seconds() // 3600), value)
        for stat, chat_id, hour, value in dump()["hourly"]
        if stat == "messages_sent_by_chat"
    )
    assert per_chat == [(a, 0, 2), (a, 1, 1), (a, 3, 1), (a, 26, 1), (b, 26, 2)]
    assert dump()["user_days"] == sorted(
        [(alice, D0, 2), (bob, D0, 2), (alice, D1, 1), (carol, D1, 2)]
    )
    assert dump()["daily"] == [
        ("active_users_1d", D0, 2),
        ("active_users_1d", D1, 2),
        ("active_users_30d", D0, 2),
        ("active_users_30d", D1, 3),
        ("active_users_30d", D2, 3),  # partial: day 2 has begun, its windows hold days 0-1
        ("active_users_7d", D0, 2),
        ("active_users_7d", D1, 3),
        ("active_users_7d", D2, 3),  # partial
    ]
    weekly = FillState.objects.get(stat="active_users_7d")
    assert (weekly.filled_until, weekly.partial_until) == (at(48), at(72))
    assert dump()["first_replies"] == [
        (a, hm(0, 15), alice, hm(1, 40)),
        (b, hm(26, 10), carol, hm(26, 20)),
    ]


def test_a_second_run_fills_nothing_and_changes_nothing(activity: Activity) -> None:
    first = fill.fill_activity_counts(until=UNTIL)
    before = dump()
    second = fill.fill_activity_counts(until=UNTIL)
    assert first.slices["messages_sent"] == 48
    assert second.slices == {}
    assert dump() == before


def test_only_the_missing_slices_are_filled(activity: Activity) -> None:
    fill.fill_activity_counts(until=at(24))
    report = fill.fill_activity_counts(until=at(27.5))  # 27:30 -> hours 24, 25, 26 complete
    assert report.slices["messages_sent"] == 3
    assert "active_users_1d" not in report.slices  # day 1 is not complete yet
    assert FillState.objects.get(stat="messages_sent").filled_until == at(27)


def test_a_gap_is_backfilled_like_one_run(activity: Activity) -> None:
    fill.fill_activity_counts(until=UNTIL)
    reference = dump()
    fill.rebuild_activity_counts(since=T0 - timedelta(days=3), until=at(1))  # beat ran once...
    assert hourly_totals()["messages_sent"] == {0: 2, 1: 1}  # hour 1 in progress: partial
    assert FillState.objects.get(stat="messages_sent").filled_until == at(1)
    report = fill.fill_activity_counts(until=UNTIL)  # ...then was down for a day and more
    assert report.slices["messages_sent"] == 47
    assert dump() == reference


class Crash(Exception):
    pass


def messages_ever_is_exact() -> bool:
    """The fill's running total of final messages_sent hours is the sum of those rows, and
    messages ever (the snapshot's) counts every message once."""
    filled = FillState.objects.get(stat="messages_sent").filled_until
    final = HourlyCount.objects.filter(stat="messages_sent", hour__lt=filled)
    total = tallies.get(fill.final_total_name("messages_sent"))
    late = hm(48, 0)  # after every message of the activity
    return total == sum(final.values_list("value", flat=True)) and (
        selectors.messages_total(late) == Message.objects.count()
    )


def test_a_crashed_run_is_redone_cleanly(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill.fill_activity_counts(until=UNTIL)
    reference = dump()
    fill.rebuild_activity_counts(since=T0, until=at(0))  # back to T0, nothing after it

    real_write, calls = fill._write_step, []

    def crash_on_the_fourth_step(*args: object) -> int:
        calls.append(1)
        written = real_write(*args)  # the rows are written...
        if len(calls) == 4:
            raise Crash  # ...then the process "dies" before the step's transaction commits
        return written

    monkeypatch.setattr(fill, "_write_step", crash_on_the_fourth_step)
    with pytest.raises(Crash):
        fill.fill_activity_counts(until=UNTIL)
    started = list(FillState.objects.filter(state=FillState.State.STARTED).values_list("stat"))
    assert len(started) == 1  # the step that died is marked, its rows rolled back
    assert dump() != reference
    monkeypatch.setattr(fill, "_write_step", real_write)

    report = fill.fill_activity_counts(until=UNTIL)
    assert report.redone == [started[0][0]]
    assert not FillState.objects.filter(state=FillState.State.STARTED).exists()
    assert dump() == reference
    assert messages_ever_is_exact()


def test_rebuild_since_counts_a_message_inserted_into_the_past(activity: Activity) -> None:
    fill.fill_activity_counts(until=UNTIL)
    Message.objects.create(
        chat=activity.chat_b, author=activity.bob, text="late", created_at=hm(3, 30)
    )
    fill.fill_activity_counts(until=UNTIL)
    assert hourly_totals()["messages_sent"][3] == 1  # already final: not seen incrementally
    fill.rebuild_activity_counts(since=at(2), until=UNTIL)
    assert hourly_totals()["messages_sent"][3] == 2
    assert hourly_totals()["active_chats"][3] == 2
    assert hourly_totals()["messages_sent"][0] == 2  # before `since`: untouched
    assert messages_ever_is_exact()


def test_fill_stats_command_reports_what_it_filled(db: None, redis_service, capsys) -> None:
    two_hours_ago = timezone.now() - timedelta(hours=2)
    user = User.objects.create(username="recent", date_joined=two_hours_ago)
    chat = Chat.objects.create(title="Now", created_by=user, created_at=two_hours_ago)
    Message.objects.create(chat=chat, author=user, text="hi", created_at=two_hours_ago)
    call_command("fill_stats")
    out = capsys.readouterr().out
    assert "messages_sent:" in out and "slices" in out
    call_command("fill_stats")
    assert "nothing to fill" in capsys.readouterr().out
    assert HourlyCount.objects.filter(stat="messages_sent").get().value == 1
    call_command("fill_stats", since=two_hours_ago.date().isoformat())
    assert "messages_sent:" in capsys.readouterr().out
    assert HourlyCount.objects.filter(stat="messages_sent").get().value == 1


def test_fill_stats_command_refuses_while_another_fill_holds_the_lock(db: None, redis_service):
    from django.core.management.base import CommandError

    from metrics.jobs import exclusive

    with exclusive("fill_stats") as acquired:
        assert acquired
        with pytest.raises(CommandError, match="holds the lock"):
            call_command("fill_stats", since="all")

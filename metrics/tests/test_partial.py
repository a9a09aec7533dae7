"""Partial rows: the slices in progress are counted as they fill, then replaced by final rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats.models import Message
from metrics import fill, selectors
from metrics.models import DailyCount, FillState, HourlyCount

from .support import Activity, at, dump, hm

D1 = date(2025, 3, 4)


def sent(hour: float) -> int | None:
    """The stored messages_sent total of the hour `hour` hours after T0 (None: no row)."""
    return (
        HourlyCount.objects.filter(stat="messages_sent", chat_id__isnull=True, hour=at(hour))
        .values_list("value", flat=True)
        .first()
    )


def state(stat: str) -> tuple:
    row = FillState.objects.get(stat=stat)
    return row.filled_until, row.partial_until, row.state


def test_the_current_hour_is_counted_as_it_fills_and_then_becomes_final(
    activity: Activity,
) -> None:
    # At 26:30, hour 26 has two messages so far (26:10, 26:20).
    Message.objects.filter(created_at=hm(26, 50)).delete()
    report = fill.fill_activity_counts(now=hm(26, 30))
    assert sent(26) == 2
    assert report.partial["messages_sent"] == 1
    assert state("messages_sent") == (at(26), at(27), FillState.State.DONE)
    assert state("user_day_activity") == (at(24), at(48), FillState.State.DONE)
    assert DailyCount.objects.get(stat="active_users_1d", day=D1).value == 2  # alice, carol

    # A message arrives in the hour: the next run recounts it.
    Message.objects.create(
        chat=activity.chat_b, author=activity.bob, text="hi", created_at=hm(26, 40)
    )
    fill.fill_activity_counts(now=hm(26, 45))
    assert sent(26) == 3
    assert DailyCount.objects.get(stat="active_users_1d", day=D1).value == 3  # and bob

    # The hour ends: a normal step writes it for good, the next hour is the partial one.
    report = fill.fill_activity_counts(now=hm(27, 5))
    assert report.slices["messages_sent"] == 1
    assert sent(26) == 3
    assert state("messages_sent") == (at(27), at(28), FillState.State.DONE)

    # The same rows as a rebuild from scratch at that moment, and as a second run.
    reference = dump()
    fill.fill_activity_counts(now=hm(27, 5))
    assert dump() == reference
    fill.rebuild_activity_counts(until=hm(27, 3))
    assert dump() == reference


def test_a_later_run_without_the_hour_in_progress_leaves_no_stale_partial_row(
    activity: Activity,
) -> None:
    fill.fill_activity_counts(until=hm(26, 28))
    assert sent(26) == 3
    Message.objects.filter(created_at__gte=at(26)).delete()  # e.g. the hour's rows purged
    fill.fill_activity_counts(until=hm(27, 3))
    assert sent(26) is None  # the final step replaced the partial row
    assert state("messages_sent")[:2] == (at(27), at(28))


class Crash(Exception):
    pass


def test_a_crash_in_a_step_with_partial_rows_present_is_redone_cleanly(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    until = at(48) + timedelta(minutes=30)
    fill.fill_activity_counts(until=until)
    reference = dump()
    fill.rebuild_activity_counts(until=hm(26, 15))  # partial rows of hour 26 and day 1 exist
    assert sent(26) == 3
    assert state("messages_sent_by_chat")[:2] == (at(26), at(27))
    partial_before = dump()

    real_write, calls = fill._write_step, []

    def crash_on_the_second_step(*args: object) -> int:
        calls.append(1)
        written = real_write(*args)
        if len(calls) == 2:  # messages_sent_by_chat, whose partial rows are present
            raise Crash
        return written

    monkeypatch.setattr(fill, "_write_step", crash_on_the_second_step)
    with pytest.raises(Crash):
        fill.fill_activity_counts(until=until)
    # The step died: its statistic is marked, its transaction (the delete too) rolled back.
    assert state("messages_sent_by_chat") == (at(26), at(27), FillState.State.STARTED)
    assert state("messages_sent") == (at(48), at(49), FillState.State.DONE)
    assert dump()["user_days"] == partial_before["user_days"]  # not reached: still partial
    monkeypatch.setattr(fill, "_write_step", real_write)

    report = fill.fill_activity_counts(until=until)
    assert report.redone == ["messages_sent_by_chat"]
    assert dump() == reference


def test_a_crash_while_writing_partial_rows_keeps_the_previous_ones(
    activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill.fill_activity_counts(until=hm(26, 15))
    assert sent(26) == 3
    Message.objects.create(
        chat=activity.chat_b, author=activity.bob, text="hi", created_at=hm(26, 40)
    )

    def crash(*args: object) -> int:
        raise Crash

    real_write = fill._write_partial
    monkeypatch.setattr(fill, "_write_partial", crash)
    with pytest.raises(Crash):
        fill.fill_activity_counts(until=hm(26, 55))
    assert sent(26) == 3  # rolled back: the previous run's provisional count, still partial
    assert state("messages_sent") == (at(26), at(27), FillState.State.DONE)
    monkeypatch.setattr(fill, "_write_partial", real_write)
    report = fill.fill_activity_counts(until=hm(26, 55))
    assert sent(26) == 4
    reference = dump()
    fill.rebuild_activity_counts(until=hm(26, 55))
    assert dump() == reference
    assert report.redone == []


def test_live_readers_count_the_hour_in_progress_once(activity: Activity) -> None:
    """The snapshot's selectors stop the counts at filled_until and read the rest raw: the
    partial rows of the same messages are not added on top."""
    Message.objects.filter(created_at=hm(26, 50)).delete()
    now = hm(26, 30)
    fill.fill_activity_counts(now=now)
    assert sent(26) == 2  # partial rows present
    assert selectors.messages_total(now) == 6
    assert selectors.messages_by_chat(at(24), now) == {activity.chat_b.pk: 2}
    assert selectors.active_users(now, 1) == 2  # alice and carol today
    assert selectors.active_users(now, 7) == 3


def test_with_nothing_new_the_partial_rows_stand_and_the_next_message_is_counted(
    activity: Activity,
) -> None:
    """A run that finds no raw row stamped since the last one (less SETTLE) rewrites nothing;
    a message stamped inside SETTLE of that run, committed after it, is still counted."""
    Message.objects.filter(created_at=hm(26, 50)).delete()
    fill.fill_activity_counts(now=hm(26, 30))
    assert sent(26) == 2
    before = dump()
    with CaptureQueriesContext(connection) as queries:
        report = fill.fill_activity_counts(now=hm(26, 45))
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "DELETE", "UPDATE"))
    ]
    assert writes == [] and report.partial == {}
    assert dump() == before

    # Stamped a minute before the previous run's `now`, committed after it.
    Message.objects.create(
        chat=activity.chat_b, author=activity.bob, text="late", created_at=hm(26, 44)
    )
    report = fill.fill_activity_counts(now=hm(26, 50))
    assert sent(26) == 3
    assert report.partial["messages_sent"] == 1
    assert DailyCount.objects.get(stat="active_users_1d", day=D1).value == 3  # and bob

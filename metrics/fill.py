"""Fill the statistics of `metrics.stats` incrementally from the raw tables (the write side).

Each statistic has a `FillState`: everything before `filled_until` is final. A run fills only
the slices from there to the last complete slice before `until`, a bounded step at a time, each
step reading the raw table through its time index (`created_at`, `date_joined`, `at`) with one
grouped `INSERT ... SELECT`, so its cost grows with the new rows, not with history. A step is:

1. mark the state STARTED (committed), so a crash is visible;
2. in one transaction: delete the step's rows, insert the new counts, move `filled_until`, mark
   DONE.

A run that finds STARTED deletes every row of the statistic from `filled_until` on and redoes the
step, so a crashed run is redone cleanly. A run after a long pause (beat was down) fills the whole
gap. Running twice gives the same rows: a slice is only ever written whole. Zero counts are not
stored. Statistics that depend on another (active users on user-day activity) never run ahead of
it.

Rows created with a time already filled (clock skew, a bulk import into the past) are counted
only by a rebuild: `rebuild_activity_counts(since=...)` or `manage.py fill_stats --since`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Min
from django.db.models.functions import Trunc, TruncDate
from django.utils import timezone

from chats.models import Message

from .models import ChatFirstReply, DailyCount, FillState, HourlyCount, UserDayActivity
from .stats import ActiveUsersStat, FirstReplyStat, HourlyStat, Stat, UserDayStat, all_stats
from .timeutil import floor_time

logger = logging.getLogger(__name__)

# Slices per step: a step is one transaction and one grouped INSERT ... SELECT (the counts never
# travel to Python). Big enough that a 90-day rebuild takes few steps, small enough that a step's
# transaction stays short.
STEP_SLICES = {timedelta(hours=1): 168, timedelta(days=1): 31}
BULK_BATCH = 5000


@dataclass
class FillReport:
    """What one run did, per statistic: slices filled and rows written."""

    slices: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    redone: list[str] = field(default_factory=list)


# A row is stamped when its transaction starts and visible only once it commits: a slice is
# counted only when it ended this long ago, so a late commit is never left out for good.
SETTLE = timedelta(minutes=2)


# --- reading the raw tables ----------------------------------------------------------------------


def _first_raw_time(stat: Stat) -> datetime | None:
    """The earliest raw row the statistic counts (MIN over the time index: one index probe)."""
    if isinstance(stat, HourlyStat):
        return stat.model.objects.filter(stat.where).aggregate(t=Min(stat.time_field))["t"]
    return Message.objects.aggregate(t=Min("created_at"))["t"]


def _insert_select(table: str, columns: list[str], select: str, params: list) -> int:
    """INSERT INTO table (columns) <select>: the counts never leave the database server."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {select}", params)
        return max(cursor.rowcount, 0)


def _write_hourly(stat: HourlyStat, start: datetime, end: datetime) -> int:
    """One grouped query through the time index, inserted as HourlyCount rows."""
    time_range = {f"{stat.time_field}__gte": start, f"{stat.time_field}__lt": end}
    group = ["bucket", "chat_id"] if stat.by_chat else ["bucket"]
    grouped = (
        stat.model.objects.filter(stat.where, **time_range)
        .annotate(bucket=Trunc(stat.time_field, "hour", tzinfo=UTC))
        .values(*group)
        .annotate(n=stat.aggregate)
        .order_by()
        .values_list(*group, "n")
    )
    inner, params = grouped.query.sql_with_params()
    chat = "sub.chat_id" if stat.by_chat else "NULL"
    select = f"SELECT %s, {chat}, sub.bucket, sub.n FROM ({inner}) sub WHERE sub.n > 0"  # noqa: S608 - Django-compiled SQL, values as parameters
    table = HourlyCount._meta.db_table
    return _insert_select(table, ["stat", "chat_id", "hour", "value"], select, [stat.name, *params])


def _write_user_days(start: datetime, end: datetime) -> int:
    grouped = (
        Message.objects.filter(created_at__gte=start, created_at__lt=end, author_id__isnull=False)
        .annotate(bucket=TruncDate("created_at", tzinfo=UTC))
        .values("bucket", "author_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("bucket", "author_id", "n")
    )
    inner, params = grouped.query.sql_with_params()
    select = f"SELECT sub.author_id, sub.bucket, sub.n FROM ({inner}) sub"  # noqa: S608
    table = UserDayActivity._meta.db_table
    return _insert_select(table, ["user_id", "day", "messages"], select, list(params))


def _first_reply_rows(start: datetime, end: datetime) -> list[ChatFirstReply]:
    """New or completed `ChatFirstReply` rows from the messages in [start, end).

    One grouped query (first message per chat and author) through the created_at index, then the
    chats seen in the step that still lack a first message or a first reply.
    """
    grouped = (
        Message.objects.filter(created_at__gte=start, created_at__lt=end, author_id__isnull=False)
        .values("chat_id", "author_id")
        .annotate(first=Min("created_at"))
        .order_by()
        .values_list("chat_id", "author_id", "first")
    )
    firsts: dict[int, list[tuple[datetime, int]]] = {}
    for chat_id, author_id, first in grouped:
        firsts.setdefault(chat_id, []).append((first, author_id))
    existing: dict[int, ChatFirstReply] = {}
    chat_ids = list(firsts)
    for i in range(0, len(chat_ids), BULK_BATCH):
        batch = chat_ids[i : i + BULK_BATCH]
        existing.update(ChatFirstReply.objects.in_bulk(batch))
    rows = []
    for chat_id, by_author in firsts.items():
        row = existing.get(chat_id)
        if row is None:
            first_at, first_author = min(by_author)
            row = ChatFirstReply(
                chat_id=chat_id, first_message_at=first_at, first_author_id=first_author
            )
        elif row.first_reply_at is not None:
            continue
        replies = [at for at, author in by_author if author != row.first_author_id]
        if replies:
            row.first_reply_at = min(replies)
        elif chat_id in existing:
            continue
        rows.append(row)
    return rows


def _active_user_rows(stat: ActiveUsersStat, start: datetime, end: datetime) -> list[DailyCount]:
    """Distinct users over each day's window, from one read of the user-days it needs, with a
    sliding window (users enter with the newest day, leave with the day that drops out)."""
    first_day, end_day = start.date(), end.date()
    window = timedelta(days=stat.window_days)
    by_day: dict[date, list[int]] = {}
    user_days = UserDayActivity.objects.filter(
        day__gt=first_day - window, day__lt=end_day
    ).values_list("day", "user_id")
    for day, user_id in user_days.iterator(chunk_size=20000):
        by_day.setdefault(day, []).append(user_id)
    in_window: dict[int, int] = {}  # user -> active days inside the window

    def add(day: date, step: int) -> None:
        for user_id in by_day.get(day, ()):
            left = in_window.get(user_id, 0) + step
            if left:
                in_window[user_id] = left
            else:
                del in_window[user_id]

    day = first_day - window + timedelta(days=1)
    while day < first_day:
        add(day, 1)
        day += timedelta(days=1)
    rows = []
    while day < end_day:
        add(day, 1)
        add(day - window, -1)
        if in_window:
            rows.append(DailyCount(stat=stat.name, day=day, value=len(in_window)))
        day += timedelta(days=1)
    return rows


# --- writing the counts --------------------------------------------------------------------------


def _delete_rows(stat: Stat, start: datetime, end: datetime | None = None) -> int:
    """Delete the statistic's rows in [start, end) (end None: everything from start on)."""
    if isinstance(stat, HourlyStat):
        rows = HourlyCount.objects.filter(stat=stat.name, hour__gte=start)
        if end is not None:
            rows = rows.filter(hour__lt=end)
    elif isinstance(stat, UserDayStat):
        rows = UserDayActivity.objects.filter(day__gte=start.date())
        if end is not None:
            rows = rows.filter(day__lt=end.date())
    elif isinstance(stat, FirstReplyStat):
        firsts = ChatFirstReply.objects.filter(first_message_at__gte=start)
        replies = ChatFirstReply.objects.filter(first_reply_at__gte=start)
        if end is not None:
            firsts = firsts.filter(first_message_at__lt=end)
            replies = replies.filter(first_reply_at__lt=end)
        return firsts.delete()[0] + replies.update(first_reply_at=None)
    else:
        rows = DailyCount.objects.filter(stat=stat.name, day__gte=start.date())
        if end is not None:
            rows = rows.filter(day__lt=end.date())
    return rows.delete()[0]


def _write_step(stat: Stat, start: datetime, end: datetime) -> int:
    """Write the statistic's rows for [start, end) (runs inside the step's transaction; the
    crash tests make it fail there). Returns the rows written."""
    if isinstance(stat, HourlyStat):
        return _write_hourly(stat, start, end)
    if isinstance(stat, UserDayStat):
        return _write_user_days(start, end)
    if isinstance(stat, FirstReplyStat):
        rows = _first_reply_rows(start, end)
        ChatFirstReply.objects.bulk_create(
            rows,
            batch_size=BULK_BATCH,
            update_conflicts=True,
            unique_fields=["chat_id"],
            update_fields=["first_reply_at"],
        )
        return len(rows)
    rows = _active_user_rows(stat, start, end)
    DailyCount.objects.bulk_create(rows, batch_size=BULK_BATCH)
    return len(rows)


def _fill_step(state: FillState, stat: Stat, step_end: datetime) -> int:
    start = state.filled_until
    FillState.objects.filter(pk=state.pk).update(
        state=FillState.State.STARTED, updated_at=timezone.now()
    )
    with transaction.atomic():
        _delete_rows(stat, start, step_end)
        written = _write_step(stat, start, step_end)
        FillState.objects.filter(pk=state.pk).update(
            filled_until=step_end, state=FillState.State.DONE, updated_at=timezone.now()
        )
    state.filled_until, state.state = step_end, FillState.State.DONE
    return written


def _fill_target(stat: Stat, until: datetime) -> datetime | None:
    """The end of the last complete slice before `until`, never past a dependency's fill
    (None: a dependency was never filled, so there is nothing to build on yet)."""
    target = floor_time(until, stat.slice)
    for dependency in stat.depends_on:
        filled = FillState.objects.filter(stat=dependency).values_list("filled_until", flat=True)
        if not filled:
            return None
        target = min(target, filled[0])
    return floor_time(target, stat.slice)


def _state_for(stat: Stat, target: datetime) -> FillState:
    state = FillState.objects.filter(stat=stat.name).first()
    if state is not None:
        return state
    first = _first_raw_time(stat)
    start = target if first is None else min(floor_time(first, stat.slice), target)
    state, _ = FillState.objects.get_or_create(stat=stat.name, defaults={"filled_until": start})
    return state


def fill_stat(stat: Stat, until: datetime, report: FillReport | None = None) -> FillReport:
    """Fill one statistic up to the last complete slice before `until`."""
    report = report or FillReport()
    target = _fill_target(stat, until)
    if target is None:
        return report
    state = _state_for(stat, target)
    if state.state == FillState.State.STARTED:
        deleted = _delete_rows(stat, state.filled_until)
        logger.warning(
            "%s: redoing an unfinished step from %s (%d rows deleted)",
            stat.name,
            state.filled_until,
            deleted,
        )
        FillState.objects.filter(pk=state.pk).update(state=FillState.State.DONE)
        report.redone.append(stat.name)
    step = stat.slice * STEP_SLICES[stat.slice]
    while state.filled_until < target:
        step_end = min(state.filled_until + step, target)
        slices = round((step_end - state.filled_until) / stat.slice)
        written = _fill_step(state, stat, step_end)
        report.slices[stat.name] = report.slices.get(stat.name, 0) + slices
        report.rows[stat.name] = report.rows.get(stat.name, 0) + written
    return report


def fill_activity_counts(
    until: datetime | None = None, stats: list[str] | None = None
) -> FillReport:
    """Fill every statistic (or the named ones) up to `until` (default: SETTLE ago)."""
    until = until or timezone.now() - SETTLE
    report = FillReport()
    for name, stat in all_stats().items():
        if stats is None or name in stats:
            fill_stat(stat, until, report)
    return report


def rebuild_activity_counts(
    since: datetime | None = None, until: datetime | None = None
) -> FillReport:
    """Recount from `since` (default: from the first raw row), then fill up to `until`.

    Deletes each statistic's rows from `since` on and moves its FillState back, then runs the
    normal fill; windowed statistics are recomputed for every day from `since` on too.
    """
    stats = all_stats()
    with transaction.atomic():
        if since is None:
            HourlyCount.objects.all().delete()
            DailyCount.objects.all().delete()
            UserDayActivity.objects.all().delete()
            ChatFirstReply.objects.all().delete()
            FillState.objects.all().delete()
        else:
            for stat in stats.values():
                start = floor_time(since, stat.slice)
                _delete_rows(stat, start)
                FillState.objects.filter(stat=stat.name, filled_until__gt=start).update(
                    filled_until=start, state=FillState.State.DONE, updated_at=timezone.now()
                )
    return fill_activity_counts(until=until)

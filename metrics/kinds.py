"""The kinds of statistic, each carrying how it is counted (the write side of `metrics.stats`).

`metrics.fill` drives every statistic the same way, a bounded step at a time, and never asks
which kind it holds: what differs between kinds lives here, on the declaration, as in Zulip's
`analytics/lib/counts.py` (a `CountStat` with its `DataCollector`). A kind says:

- `output_model`: the table its rows are stored in;
- `first_raw_time()`: the earliest raw row it counts, where its first fill starts;
- `delete_rows(start, end)`: remove what a step over [start, end) writes (end None: from start
  on, to redo a crashed step), so a slice is only ever written whole;
- `write_rows(start, end)`: count [start, end) from the raw tables into `output_model` (inside
  the step's transaction), returning the rows written.

Hourly totals and user-days are one grouped `INSERT ... SELECT` through the raw table's time
index, so the counts never travel to Python. First replies and windowed active users need a
little logic per chat or per day, so their rows are computed in Python from one read each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from django.db import connection, models
from django.db.models import Count, Min, Q, QuerySet
from django.db.models.functions import Trunc, TruncDate

from chats.models import Message

from .models import ChatFirstReply, DailyCount, HourlyCount, UserDayActivity
from .timeutil import DAY, HOUR

BULK_BATCH = 5000  # rows per INSERT (and chats per lookup) where rows are built in Python


class Stat(ABC):
    """What every kind of statistic offers the fill and the readers (see the module docstring).

    Subclasses are frozen dataclasses with at least `name`, `description`, `slice` (the time
    slice one row covers) and `depends_on` (statistics that must be filled first).
    """

    name: str
    description: str
    slice: timedelta
    depends_on: tuple[str, ...]
    output_model: ClassVar[type[models.Model]]
    slice_field: ClassVar[str] = ""  # the output column holding the slice's start

    @property
    def hourly_total(self) -> bool:
        """True for one total per hour (no chat): a row of the reports' `hourly` table."""
        return False

    def first_raw_time(self) -> datetime | None:
        """The earliest message (one probe of the created_at index): all but hourly statistics
        are counted from the messages."""
        return Message.objects.aggregate(t=Min("created_at"))["t"]

    def raw_between(self, start: datetime, end: datetime) -> bool:
        """Whether a raw row it counts is stamped in [start, end) (one probe of the time
        index): the fill leaves its partial rows as they are when none is."""
        return Message.objects.filter(created_at__gte=start, created_at__lt=end).exists()

    def stored_rows(self) -> QuerySet:
        """Every row of this statistic in `output_model`."""
        return self.output_model.objects.all()

    def delete_rows(self, start: datetime, end: datetime | None = None) -> int:
        """Delete the statistic's rows of the slices in [start, end) (end None: from start on)."""

        by_date = not isinstance(
            self.output_model._meta.get_field(self.slice_field), models.DateTimeField
        )

        def bound(moment: datetime) -> datetime | date:  # a DateField is compared with dates
            return moment.date() if by_date else moment

        rows = self.stored_rows().filter(**{f"{self.slice_field}__gte": bound(start)})
        if end is not None:
            rows = rows.filter(**{f"{self.slice_field}__lt": bound(end)})
        return rows.delete()[0]

    @abstractmethod
    def write_rows(self, start: datetime, end: datetime) -> int:
        """Write the rows of [start, end) (after `delete_rows` of the same range)."""


def _insert_select(model: type[models.Model], columns: list[str], select: str, params: list) -> int:
    """INSERT INTO model's table (columns) <select>: the counts never leave the database server."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {select}", params)
        return max(cursor.rowcount, 0)


@dataclass(frozen=True)
class HourlyStat(Stat):
    """An aggregate over the rows of `model` whose `time_field` falls in each hour, optionally
    per chat; stored in `HourlyCount`."""

    name: str
    model: type[models.Model]  # the raw table read
    time_field: str
    aggregate: models.Aggregate
    where: Q = field(default_factory=Q)
    by_chat: bool = False  # one row per chat_id per hour instead of one total
    description: str = ""
    slice: timedelta = HOUR
    depends_on: tuple[str, ...] = ()
    output_model: ClassVar[type[models.Model]] = HourlyCount
    slice_field: ClassVar[str] = "hour"

    @property
    def hourly_total(self) -> bool:
        return not self.by_chat

    def first_raw_time(self) -> datetime | None:
        return self.model.objects.filter(self.where).aggregate(t=Min(self.time_field))["t"]

    def raw_between(self, start: datetime, end: datetime) -> bool:
        stamped = {f"{self.time_field}__gte": start, f"{self.time_field}__lt": end}
        return self.model.objects.filter(**stamped).exists()

    def stored_rows(self) -> QuerySet:
        return HourlyCount.objects.filter(stat=self.name)

    def write_rows(self, start: datetime, end: datetime) -> int:
        """One grouped query through the time index, inserted as HourlyCount rows."""
        time_range = {f"{self.time_field}__gte": start, f"{self.time_field}__lt": end}
        group = ["bucket", "chat_id"] if self.by_chat else ["bucket"]
        grouped = (
            self.model.objects.filter(self.where, **time_range)
            .annotate(bucket=Trunc(self.time_field, "hour", tzinfo=UTC))
            .values(*group)
            .annotate(n=self.aggregate)
            .order_by()
            .values_list(*group, "n")
        )
        inner, params = grouped.query.sql_with_params()
        chat = "sub.chat_id" if self.by_chat else "NULL"
        select = f"SELECT %s, {chat}, sub.bucket, sub.n FROM ({inner}) sub WHERE sub.n > 0"  # noqa: S608 - Django-compiled SQL, values as parameters
        columns = ["stat", "chat_id", "hour", "value"]
        return _insert_select(HourlyCount, columns, select, [self.name, *params])


@dataclass(frozen=True)
class UserDayStat(Stat):
    """Messages per user per UTC day; stored in `UserDayActivity` (one table, no stat column)."""

    name: str
    description: str = ""
    slice: timedelta = DAY
    depends_on: tuple[str, ...] = ()
    output_model: ClassVar[type[models.Model]] = UserDayActivity
    slice_field: ClassVar[str] = "day"

    def write_rows(self, start: datetime, end: datetime) -> int:
        grouped = (
            Message.objects.filter(
                created_at__gte=start, created_at__lt=end, author_id__isnull=False
            )
            .annotate(bucket=TruncDate("created_at", tzinfo=UTC))
            .values("bucket", "author_id")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("bucket", "author_id", "n")
        )
        inner, params = grouped.query.sql_with_params()
        select = f"SELECT sub.author_id, sub.bucket, sub.n FROM ({inner}) sub"  # noqa: S608
        columns = ["user_id", "day", "messages"]
        return _insert_select(UserDayActivity, columns, select, list(params))


@dataclass(frozen=True)
class FirstReplyStat(Stat):
    """Per chat: first message and first reply by another user; stored in `ChatFirstReply`.

    A step only sets what is missing, so its redo clears what it set: rows first seen in the
    range are deleted, replies first seen in it are unset.
    """

    name: str
    description: str = ""
    slice: timedelta = HOUR
    depends_on: tuple[str, ...] = ()
    output_model: ClassVar[type[models.Model]] = ChatFirstReply

    def delete_rows(self, start: datetime, end: datetime | None = None) -> int:
        firsts = ChatFirstReply.objects.filter(first_message_at__gte=start)
        replies = ChatFirstReply.objects.filter(first_reply_at__gte=start)
        if end is not None:
            firsts = firsts.filter(first_message_at__lt=end)
            replies = replies.filter(first_reply_at__lt=end)
        return firsts.delete()[0] + replies.update(first_reply_at=None)

    def write_rows(self, start: datetime, end: datetime) -> int:
        rows = self._rows(start, end)
        ChatFirstReply.objects.bulk_create(
            rows,
            batch_size=BULK_BATCH,
            update_conflicts=True,
            unique_fields=["chat_id"],
            update_fields=["first_reply_at"],
        )
        return len(rows)

    def _rows(self, start: datetime, end: datetime) -> list[ChatFirstReply]:
        """New or completed rows from the messages in [start, end): one grouped query (first
        message per chat and author) through the created_at index, then the chats seen in the
        step that still lack a first message or a first reply."""
        grouped = (
            Message.objects.filter(
                created_at__gte=start, created_at__lt=end, author_id__isnull=False
            )
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
            existing.update(ChatFirstReply.objects.in_bulk(chat_ids[i : i + BULK_BATCH]))
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


@dataclass(frozen=True)
class ActiveUsersStat(Stat):
    """Distinct users active over the `window_days` days ending on each day, computed from
    `UserDayActivity` (so it depends on it); stored in `DailyCount`."""

    name: str
    window_days: int
    description: str = ""
    slice: timedelta = DAY
    depends_on: tuple[str, ...] = ("user_day_activity",)
    output_model: ClassVar[type[models.Model]] = DailyCount
    slice_field: ClassVar[str] = "day"

    def stored_rows(self) -> QuerySet:
        return DailyCount.objects.filter(stat=self.name)

    def write_rows(self, start: datetime, end: datetime) -> int:
        rows = self._rows(start, end)
        DailyCount.objects.bulk_create(rows, batch_size=BULK_BATCH)
        return len(rows)

    def _rows(self, start: datetime, end: datetime) -> list[DailyCount]:
        """Distinct users over each day's window, from one read of the user-days it needs, with
        a sliding window (users enter with the newest day, leave with the day that drops out)."""
        first_day, end_day = start.date(), end.date()
        window = timedelta(days=self.window_days)
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
                rows.append(DailyCount(stat=self.name, day=day, value=len(in_window)))
            day += timedelta(days=1)
        return rows

"""The report's tables: tidy pandas DataFrames read from the statistics tables (metrics.models).

Never from a scan of messages: every table comes from the counts, so all numbers in a report
agree with each other. The range reaches now: its last hour (and day) are the fill's partial rows,
recomputed every minute until the slice ends, and the `hourly`, `chat_hourly` and `daily` tables
say so in a boolean `partial` column (True from `ReportRange.partial_from` on). Column layouts
are the report contract (docs/metrics.md).

Every table covers the report's range and nothing before it, each read through a time index, so
a report costs what its range holds, not what the platform has seen since it began (issue 24):
`chats` lists the chats created or active in the range, `users` the accounts that joined in it,
`first_replies` the chats whose first message is in it. What came before is one number per kind
(`counts_before`, the manifest's `before_range`), from the running totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Model

from chats.models import Chat, Membership, Notification
from core.models import Tally

from ..models import ChatFirstReply, DailyCount, FillState, HourlyCount, UserDayActivity
from ..selectors import filled_until
from ..stats import hourly_stat_names, hourly_total_names
from ..timeutil import DAY, HOUR, day_start, floor_time
from .transforms import utc

DAILY_STATS = [
    "active_users_1d",
    "active_users_7d",
    "active_users_30d",
    "messages_sent",
    "new_users",
]


@dataclass(frozen=True)
class ReportRange:
    """[start, end) of a report; counts from `partial_from` on are partial (== end: none)."""

    start: datetime
    end: datetime
    partial_from: datetime

    def manifest(self) -> dict[str, str | None]:
        """The manifest's `range`: `partial_from` is null when every count is final."""
        partial = self.partial_from.isoformat() if self.partial_from < self.end else None
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "partial_from": partial,
        }


def report_range(now: datetime, days: int) -> ReportRange:
    """end is `now`, or where the hourly statistics' partial rows end if the fill lags; final
    data ends at the earliest `filled_until` (never after the hour holding `now`, which is in
    progress); start is `days` whole days before end's day. Before any fill: up to the last
    whole hour, nothing partial."""
    states = FillState.objects.filter(stat__in=hourly_stat_names()).values_list(
        "filled_until", "partial_until"
    )
    if not states:
        end = floor_time(now, HOUR)
        return ReportRange(floor_time(end, DAY) - days * DAY, end, end)
    end = min(now, *(partial or filled for filled, partial in states))
    partial_from = min(end, floor_time(now, HOUR), *(filled for filled, _ in states))
    return ReportRange(floor_time(end, DAY) - days * DAY, end, partial_from)


def _hours(start: datetime, end: datetime) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="h", inclusive="left", tz=UTC, name="hour", unit="us")


def hourly_table(start: datetime, end: datetime, partial_from: datetime) -> pd.DataFrame:
    """Every (hour, stat) of the range, zeros included (the counts store only non-zero rows);
    `partial`: the hour is still being counted."""
    stats = hourly_total_names()  # a statistic declared in metrics.stats joins the table
    rows = HourlyCount.objects.filter(
        chat_id__isnull=True, stat__in=stats, hour__gte=start, hour__lt=end
    ).values_list("hour", "stat", "value")
    found = pd.DataFrame(list(rows), columns=["hour", "stat", "value"])
    found["hour"] = utc(found["hour"])
    grid = pd.MultiIndex.from_product([_hours(start, end), stats], names=["hour", "stat"])
    table = found.set_index(["hour", "stat"])["value"].reindex(grid, fill_value=0).reset_index()
    table["partial"] = table["hour"] >= partial_from
    return table.astype({"stat": "str", "value": "int64", "partial": "bool"})


def chat_hourly_table(start: datetime, end: datetime, partial_from: datetime) -> pd.DataFrame:
    """Messages per (hour, chat), non-zero rows only: a zero grid would be hours x chats;
    `partial`: the hour is still being counted."""
    rows = HourlyCount.objects.filter(
        stat="messages_sent_by_chat", hour__gte=start, hour__lt=end
    ).values_list("hour", "chat_id", "value")
    table = pd.DataFrame(list(rows), columns=["hour", "chat_id", "messages"])
    table["hour"] = utc(table["hour"])
    table["partial"] = table["hour"] >= partial_from
    return table.sort_values(["hour", "chat_id"], ignore_index=True).astype(
        {"chat_id": "int64", "messages": "int64", "partial": "bool"}
    )


def daily_table(
    hourly: pd.DataFrame, start: datetime, end: datetime, partial_from: datetime
) -> pd.DataFrame:
    """Active users per window from DailyCount; messages and new users summed from the hours.

    Every day of the range that has begun, today included; `partial`: the day is still being
    counted (active users: past its statistic's `filled_until`; sums: a partial hour in it).
    A day whose active users are not computed yet (the fill lags) has no row for them.
    """
    last_day = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    days = pd.date_range(start.date(), last_day, freq="D").date
    filled, reached = {}, {}
    for stat, until, partial in FillState.objects.filter(
        stat__startswith="active_users_"
    ).values_list("stat", "filled_until", "partial_until"):
        filled[stat], reached[stat] = until.date(), (partial or until).date()
    found = {
        (day, stat): value
        for day, stat, value in DailyCount.objects.filter(
            stat__startswith="active_users_", day__gte=start.date(), day__lte=last_day
        ).values_list("day", "stat", "value")
    }
    sums = hourly.assign(day=hourly["hour"].dt.date).pivot_table(
        index="day", columns="stat", values="value", aggfunc="sum", fill_value=0
    )
    records = []
    for day in days:
        for stat in DAILY_STATS:
            if stat.startswith("active_users_"):
                if day >= reached.get(stat, date.min):
                    continue  # not computed yet: absent rather than a false zero
                value = found.get((day, stat), 0)
                partial = day >= filled[stat]
            else:
                value = int(sums[stat].get(day, 0)) if stat in sums else 0
                partial = day_start(day) + DAY > partial_from
            records.append((day, stat, value, partial))
    return pd.DataFrame(records, columns=["day", "stat", "value", "partial"]).astype(
        {"value": "int64", "partial": "bool"}
    )


CHATS_PER_QUERY = 10_000  # ids in one `IN (...)` (fewer on SQLite: its parameter limit)


def _batches(ids: list[int]) -> list[list[int]]:
    size = min(CHATS_PER_QUERY, connection.features.max_query_params or CHATS_PER_QUERY)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def chats_table(start: datetime, end: datetime, chat_hourly: pd.DataFrame) -> pd.DataFrame:
    """The chats of the range: created in it, or with a message in it (`chat_hourly`, its
    per-chat counts), with their members now and their messages in the range and in its last
    day (the 24 hours before `end`; the partial hour included).

    Older chats quiet in the range are left out (the manifest's `before_range` counts them):
    the chats are found through the index on `created_at` and the range's counts, then read by
    primary key, so the cost follows the range's activity, not the chats ever created.
    """
    created = Chat.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
        "id", flat=True
    )
    ids = sorted(set(created) | set(chat_hourly["chat_id"].tolist()))
    rows: list[tuple] = []
    members: dict[int, int] = {}
    for batch in _batches(ids):  # a chat with counts but deleted since has no row: no title
        rows += Chat.objects.filter(id__in=batch).values_list("id", "title", "created_at")
        members.update(
            Membership.objects.filter(chat_id__in=batch)
            .order_by()
            .values("chat_id")
            .annotate(n=Count("id"))
            .values_list("chat_id", "n")
        )
    chats = pd.DataFrame(rows, columns=["chat_id", "title", "created_at"])
    chats["created_at"] = utc(chats["created_at"])
    chats["members"] = chats["chat_id"].map(members).fillna(0)
    by_chat = chat_hourly.groupby("chat_id")["messages"].sum()
    last_day = chat_hourly.loc[chat_hourly["hour"] >= end - DAY].groupby("chat_id")["messages"]
    chats["messages_last_day"] = chats["chat_id"].map(last_day.sum()).fillna(0)
    chats["messages_in_range"] = chats["chat_id"].map(by_chat).fillna(0)
    return chats.astype(
        {
            "chat_id": "int64",
            "title": "str",
            "members": "int64",
            "messages_last_day": "int64",
            "messages_in_range": "int64",
        }
    )


def users_table(start: datetime, end: datetime) -> pd.DataFrame:
    """The accounts that joined in the range and when (through the index on `date_joined`): the
    growth and cohorts of the notebooks; `before_range` counts the accounts that joined earlier."""
    rows = (
        get_user_model()
        .objects.filter(date_joined__gte=start, date_joined__lt=end)
        .order_by("id")
        .values_list("id", "date_joined")
    )
    users = pd.DataFrame(list(rows), columns=["user_id", "date_joined"])
    users["date_joined"] = utc(users["date_joined"])
    return users.astype({"user_id": "int64"})


def _counted() -> dict[str, tuple[type[Model], str]]:
    """Each kind `before_range` counts: its running total's name (core.tallies, kept by
    chats.signals), the model, and the indexed field its rows are created at."""
    return {"users": (get_user_model(), "date_joined"), "chats": (Chat, "created_at")}


def counts_before(start: datetime) -> dict[str, int]:
    """Accounts and chats created before `start` that still exist (the manifest's
    `before_range`), without counting the tables: each running total (exact, kept in the
    transaction that creates or deletes a row) minus the rows created since `start`, counted
    through the time index. One statement, so every number comes from one snapshot of the
    database: a row committed between two reads can never be in the total and not in the rows
    since, or the reverse."""
    quote = connection.ops.quote_name
    since = connection.ops.adapt_datetimefield_value(start)
    columns, params = [], []
    counted = _counted()
    for name, (model, field) in counted.items():
        # Names quoted from the models' metadata; values as parameters.
        table, column = quote(model._meta.db_table), quote(model._meta.get_field(field).column)
        total = f"SELECT value FROM {quote(Tally._meta.db_table)} WHERE name = %s"  # noqa: S608
        rows_since = f"SELECT COUNT(*) FROM {table} WHERE {column} >= %s"  # noqa: S608
        columns.append(f"COALESCE(({total}), 0) - ({rows_since})")
        params += [name, since]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    return {name: int(value) for name, value in zip(counted, row, strict=True)}


def user_day_activity_table(start: datetime, end: datetime) -> pd.DataFrame:
    """Messages per user per whole UTC day of the range whose count is final (today's partial
    user-days are left out): what cohort retention is counted from."""
    filled = filled_until("user_day_activity")
    last = min(end.date(), filled.date()) if filled else start.date()
    rows = (
        UserDayActivity.objects.filter(day__gte=start.date(), day__lt=last)
        .order_by("day", "user_id")
        .values_list("user_id", "day", "messages")
    )
    return pd.DataFrame(list(rows), columns=["user_id", "day", "messages"]).astype(
        {"user_id": "int64", "messages": "int64"}
    )


def first_replies_table(start: datetime, end: datetime) -> pd.DataFrame:
    """The chats whose first message is in the range (through the index on `first_message_at`),
    with their first reply by someone else (NaT: none yet), which can come after the range's
    end (its partial hour included: the fill's partial rows, which only a late commit could
    change)."""
    rows = (
        ChatFirstReply.objects.filter(first_message_at__gte=start, first_message_at__lt=end)
        .order_by("chat_id")
        .values_list("chat_id", "first_message_at", "first_reply_at")
    )
    table = pd.DataFrame(list(rows), columns=["chat_id", "first_message_at", "first_reply_at"])
    for column in ("first_message_at", "first_reply_at"):
        table[column] = utc(table[column])
    return table.astype({"chat_id": "int64"})


def notifications_table(start: datetime) -> pd.DataFrame:
    """Emails created since `start` (the outbox table itself: small, and not messages). Events
    held by the per-inbox cap are not emails of their own: their digest is (chats.emails.digest)."""
    rows = (
        Notification.objects.filter(created_at__gte=start)
        .exclude(status__in=[Notification.HELD, Notification.FOLDED])
        .order_by("id")
        .values_list("id", "event", "status", "attempts", "created_at", "done_at", "last_error")
    )
    columns = [
        "notification_id",
        "event",
        "status",
        "attempts",
        "created_at",
        "done_at",
        "last_error",
    ]
    table = pd.DataFrame(list(rows), columns=columns)
    for column in ("created_at", "done_at"):
        table[column] = utc(table[column])
    return table.astype(
        {"notification_id": "int64", "attempts": "int64", "event": "str", "status": "str"}
    )


def includes_demo() -> bool:
    """True while seed_demo's chats exist: the report (manifest `demo`) and the notebooks then
    say their numbers include made-up history."""
    return Chat.objects.filter(is_demo=True).exists()


def build_tables(span: ReportRange) -> dict[str, pd.DataFrame]:
    """Every table of a report for `[start, end)`, in the order the manifest lists them."""
    start, end = span.start, span.end
    hourly = hourly_table(start, end, span.partial_from)
    chat_hourly = chat_hourly_table(start, end, span.partial_from)
    return {
        "hourly": hourly,
        "chat_hourly": chat_hourly,
        "daily": daily_table(hourly, start, end, span.partial_from),
        "chats": chats_table(start, end, chat_hourly),
        "users": users_table(start, end),
        "user_day_activity": user_day_activity_table(start, end),
        "first_replies": first_replies_table(start, end),
        "notifications": notifications_table(start),
    }

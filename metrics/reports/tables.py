"""The report's tables: tidy pandas DataFrames read from the statistics tables (metrics.models).

Never from a scan of messages: every table comes from the counts, so all numbers in a report
agree with each other. The range reaches now: its last hour (and day) are the fill's partial rows,
recomputed every minute until the slice ends, and the `hourly`, `chat_hourly` and `daily` tables
say so in a boolean `partial` column (True from `ReportRange.partial_from` on). Column layouts
are the report contract (docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum

from chats.models import Chat, Notification

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


def chats_table(end: datetime) -> pd.DataFrame:
    """Every chat with its member count and messages (last day before `end`, and ever; the
    partial hour included)."""
    chats = pd.DataFrame(
        list(
            Chat.objects.annotate(members=Count("memberships"))
            .order_by("id")
            .values_list("id", "title", "created_at", "members")
        ),
        columns=["chat_id", "title", "created_at", "members"],
    )
    by_chat = HourlyCount.objects.filter(stat="messages_sent_by_chat", hour__lt=end).values(
        "chat_id"
    )
    total = dict(by_chat.annotate(n=Sum("value")).values_list("chat_id", "n"))
    last_day = dict(
        by_chat.filter(hour__gte=end - DAY).annotate(n=Sum("value")).values_list("chat_id", "n")
    )
    chats["created_at"] = utc(chats["created_at"])
    chats["messages_last_day"] = chats["chat_id"].map(last_day).fillna(0)
    chats["messages_total"] = chats["chat_id"].map(total).fillna(0)
    return chats.astype(
        {
            "chat_id": "int64",
            "title": "str",
            "members": "int64",
            "messages_last_day": "int64",
            "messages_total": "int64",
        }
    )


def users_table() -> pd.DataFrame:
    """Every account and when it joined: the base of growth and cohorts in the notebooks."""
    rows = get_user_model().objects.order_by("id").values_list("id", "date_joined")
    users = pd.DataFrame(list(rows), columns=["user_id", "date_joined"])
    users["date_joined"] = utc(users["date_joined"])
    return users.astype({"user_id": "int64"})


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


def first_replies_table() -> pd.DataFrame:
    """Each chat's first message and first reply by someone else (NaT: none yet), all time:
    a chat's first reply can come long after its first message. Those seen in the hour in
    progress are included (the fill's partial rows: only a late commit could change them)."""
    rows = ChatFirstReply.objects.order_by("chat_id").values_list(
        "chat_id", "first_message_at", "first_reply_at"
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
    return {
        "hourly": hourly,
        "chat_hourly": chat_hourly_table(start, end, span.partial_from),
        "daily": daily_table(hourly, start, end, span.partial_from),
        "chats": chats_table(end),
        "users": users_table(),
        "user_day_activity": user_day_activity_table(start, end),
        "first_replies": first_replies_table(),
        "notifications": notifications_table(start),
    }

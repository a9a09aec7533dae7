"""Reads of the statistics: from the counts, plus a bounded tail from the raw tables.

Counts are final up to each statistic's `filled_until` (the last complete hour or day). Numbers
that must be current ("the last hour", "messages ever") add the rows after that point with a
range query through the time index: a cost bounded by the last hour or two of activity, never by
history. The fill's partial rows (from `filled_until` to `FillState.partial_until`, the slice in
progress) are never read here: every reader stops the counts at `filled_until` and takes the
rest raw, so the hour in progress is counted once, and exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Subquery, Sum
from django.db.models.functions import TruncMinute

from chats.models import Chat, Message
from core.models import Tally

from .fill import final_total_name
from .models import FillState, HourlyCount, JobRun, UserDayActivity
from .timeutil import HOUR, day_start, floor_time

# The live numbers' definitions, shared with observability.history (the past's gauges): one
# meaning of "the last hour", "the last day", "active in a window" and "the busiest chats".
LAST_HOUR = timedelta(hours=1)
LAST_DAY = timedelta(days=1)
TOP_CHATS = 5


def active_window(now: datetime, window_days: int) -> list[date]:
    """The UTC days of an active-users window ending with `now`'s day (today included)."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=offset) for offset in range(window_days)]


def rank_chats(counts: Mapping[int, int], limit: int = TOP_CHATS) -> list[tuple[int, int]]:
    """(chat_id, messages) of the busiest chats, busiest first, ties by chat id; no zeros."""
    return sorted(
        ((chat, n) for chat, n in counts.items() if n > 0), key=lambda item: (-item[1], item[0])
    )[:limit]


def filled_until(stat: str) -> datetime | None:
    return FillState.objects.filter(stat=stat).values_list("filled_until", flat=True).first()


def _raw_messages(start: datetime, end: datetime):
    return Message.objects.filter(created_at__gte=start, created_at__lt=end).order_by()


def messages_by_chat(start: datetime, end: datetime) -> dict[int, int]:
    """Messages per chat in [start, end): whole filled hours from the counts, the rest raw."""
    filled = filled_until("messages_sent_by_chat")
    counts: dict[int, int] = {}

    def add(rows: object) -> None:
        for chat_id, value in rows:
            counts[chat_id] = counts.get(chat_id, 0) + value

    first_whole_hour = floor_time(start, HOUR)
    if first_whole_hour < start:
        first_whole_hour += HOUR
    counted_end = min(filled, end) if filled else first_whole_hour
    if counted_end > first_whole_hour:
        add(
            HourlyCount.objects.filter(
                stat="messages_sent_by_chat", hour__gte=first_whole_hour, hour__lt=counted_end
            )
            .values("chat_id")
            .annotate(n=Sum("value"))
            .values_list("chat_id", "n")
        )
        raw_ranges = [(start, first_whole_hour), (counted_end, end)]
    else:
        raw_ranges = [(start, end)]
    for raw_start, raw_end in raw_ranges:
        if raw_start < raw_end:
            add(
                _raw_messages(raw_start, raw_end)
                .values("chat_id")
                .annotate(n=Count("id"))
                .values_list("chat_id", "n")
            )
    return counts


def messages_total(now: datetime) -> int:
    """Messages ever created: the running total of the final hours (kept by the fill, one row)
    plus the messages after the last filled hour."""
    # One statement, so the total and filled_until are of the same fill step.
    state = (
        FillState.objects.filter(stat="messages_sent")
        .annotate(
            total=Subquery(
                Tally.objects.filter(name=final_total_name("messages_sent")).values("value")
            )
        )
        .values_list("filled_until", "total")
        .first()
    )
    if state is None:
        return Message.objects.filter(created_at__lt=now).count()
    filled, counted = state
    if counted is None:  # never started: a fill that has not run since the upgrade
        counted = HourlyCount.objects.filter(stat="messages_sent", hour__lt=filled).aggregate(
            n=Sum("value")
        )["n"]
    return (counted or 0) + _raw_messages(filled, now).count()


def messages_between(start: datetime, end: datetime) -> int:
    return _raw_messages(start, end).count()


def messages_per_minute(now: datetime, minutes: int = 60) -> list[dict]:
    """Messages in each of the last `minutes` minutes (zeros included), oldest first; the
    minute as "YYYY-MM-DDTHH:MMZ" (UTC, said explicitly so a browser does not read local time)."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    grouped = dict(
        _raw_messages(start, end)
        .annotate(minute=TruncMinute("created_at", tzinfo=UTC))
        .values("minute")
        .annotate(n=Count("id"))
        .values_list("minute", "n")
    )
    rows = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        count = grouped.get(minute, 0)
        rows.append({"minute": minute.strftime("%Y-%m-%dT%H:%MZ"), "messages": count})
    return rows


def active_users(now: datetime, window_days: int) -> int:
    """Distinct users who sent a message in the last `window_days` UTC days, today included.

    Whole days come from `UserDayActivity`; today (and any day not filled yet) from the raw
    messages through the created_at index.
    """
    first_day = min(active_window(now, window_days))
    filled = filled_until("user_day_activity")
    raw_from = max(filled, day_start(first_day)) if filled else day_start(first_day)
    counted = UserDayActivity.objects.filter(day__gte=first_day, day__lt=raw_from.date())
    users = set(counted.values_list("user_id", flat=True).distinct())
    users.update(
        _raw_messages(raw_from, now)
        .filter(author_id__isnull=False)
        .values_list("author_id", flat=True)
        .distinct()
    )
    return len(users)


def new_users_since(start: datetime) -> int:
    return get_user_model().objects.filter(date_joined__gte=start).count()


def top_chats(start: datetime, end: datetime, limit: int = TOP_CHATS) -> list[dict]:
    """The busiest chats in [start, end): chat_id, title, messages; busiest first (ties by
    chat id). The one ranking of the live numbers: the snapshot's `top_chats` is this list, and
    a chat's rank (Prometheus' `rank` label, the live page's list) is its position in it."""
    counts = messages_by_chat(start, end)
    ranked = rank_chats(counts, limit)
    titles = dict(
        Chat.objects.filter(pk__in=[chat_id for chat_id, _ in ranked]).values_list("id", "title")
    )
    return [
        {"chat_id": chat_id, "title": titles.get(chat_id, ""), "messages": n}
        for chat_id, n in ranked
    ]


def job_runs() -> dict[str, dict]:
    return {
        run.job: {
            "last_success_at": run.last_success_at.isoformat() if run.last_success_at else None,
            "last_success_timestamp": (
                run.last_success_at.timestamp() if run.last_success_at else None
            ),
            "last_duration_seconds": run.last_duration_seconds,
            "last_failure_at": run.last_failure_at.isoformat() if run.last_failure_at else None,
        }
        for run in JobRun.objects.all()
    }

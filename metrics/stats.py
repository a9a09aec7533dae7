"""Every statistic, declared once as data; each kind carries how it is counted (metrics.kinds).

- `HourlyStat`: an aggregate over the rows of a raw table whose time column falls in each hour,
  optionally per chat; stored in `HourlyCount`.
- `UserDayStat`: messages per user per UTC day; stored in `UserDayActivity`.
- `FirstReplyStat`: each chat's first message and first reply by someone else; stored in
  `ChatFirstReply`.
- `ActiveUsersStat`: distinct users active over the `window_days` days ending on each day,
  computed from `UserDayActivity` (so it depends on it); stored in `DailyCount`.

A new statistic of an existing kind is one more line here: the fill, the rebuild, the FillState
and the reports pick it up by name. A new kind is one more class in `metrics.kinds` (its output
table, first raw time, how a step's rows are written and deleted); `metrics.fill` does not change.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from chats.models import Chat, MembershipEvent, Message

from .kinds import ActiveUsersStat, FirstReplyStat, HourlyStat, Stat, UserDayStat
from .models import HourlyCount


def _declare() -> list[Stat]:
    user_model = get_user_model()
    return [
        HourlyStat(
            "messages_sent",
            Message,
            "created_at",
            Count("id"),
            description="Messages created in the hour (deleted ones included: they were sent).",
        ),
        HourlyStat(
            "messages_sent_by_chat",
            Message,
            "created_at",
            Count("id"),
            by_chat=True,
            description="Messages created in the hour, per chat.",
        ),
        HourlyStat(
            "active_users",
            Message,
            "created_at",
            Count("author_id", distinct=True),
            where=Q(author_id__isnull=False),
            description="Users who sent at least one message in the hour.",
        ),
        HourlyStat(
            "active_chats",
            Message,
            "created_at",
            Count("chat_id", distinct=True),
            description="Chats with at least one message in the hour.",
        ),
        HourlyStat(
            "new_users",
            user_model,
            "date_joined",
            Count("id"),
            description="Accounts created in the hour.",
        ),
        HourlyStat(
            "joins",
            MembershipEvent,
            "at",
            Count("id"),
            where=Q(kind=MembershipEvent.Kind.JOIN),
            description="Members added to a chat in the hour.",
        ),
        HourlyStat(
            "leaves",
            MembershipEvent,
            "at",
            Count("id"),
            where=Q(kind=MembershipEvent.Kind.LEAVE),
            description="Members removed from a chat in the hour.",
        ),
        HourlyStat(
            "chats_created",
            Chat,
            "created_at",
            Count("id"),
            description="Chats created in the hour.",
        ),
        UserDayStat("user_day_activity", description="Messages per user per UTC day."),
        FirstReplyStat("first_replies", description="Each chat's first message and first reply."),
        ActiveUsersStat("active_users_1d", 1, description="Users active on the day."),
        ActiveUsersStat("active_users_7d", 7, description="Users active in the 7 days to it."),
        ActiveUsersStat("active_users_30d", 30, description="Users active in the 30 days to it."),
    ]


_STATS: dict[str, Stat] | None = None


def all_stats() -> dict[str, Stat]:
    """Name -> declaration, dependencies before dependents (declaration order)."""
    global _STATS
    if _STATS is None:  # built lazily: the user model is known only once apps are ready
        _STATS = {stat.name: stat for stat in _declare()}
    return _STATS


def hourly_stat_names() -> list[str]:
    """The statistics stored in HourlyCount: a report ends where all of them are filled."""
    return [name for name, stat in all_stats().items() if stat.output_model is HourlyCount]


def hourly_total_names() -> list[str]:
    """The hourly totals (not per chat), in declaration order: the reports' `hourly` table."""
    return [name for name, stat in all_stats().items() if stat.hourly_total]

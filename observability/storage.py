"""How much is kept: rows per large table, the report folder's size, the oldest row of each
retention. Measured by beat (observability.tasks, every STORAGE_SECONDS) and served from Redis.

Every number costs the same whatever the history, so the measurement can run every minute:

- rows per table come from PostgreSQL's statistics, never `count(*)` (a full scan of a table
  that may hold tens of millions of rows): the larger of the statistics collector's live count
  (`pg_stat_user_tables.n_live_tup`, kept current by every insert and delete, but restarted
  from zero by a crash) and the planner's `pg_class.reltuples` (as of the last VACUUM or
  ANALYZE). An estimate, which is all a budget needs. SQLite keeps no such statistics: there
  the row counts are left out (None), not counted;
- the report folder's size walks at most the bounded set of report folders;
- the oldest row each retention covers is the first entry of an index on the time it counts
  from (outbox rows: the partial indexes on (status, done_at) of the finished statuses; refused
  attempts: `refusals_by_hour`), one index read each.

The retention behind each oldest row is kept with it (`retention_days`), so an alert compares
the two without a constant of its own. `/metrics` (observability.prometheus) turns the stored
timestamps into ages at scrape time: when the measurement stops, the ages keep growing and
`measured_at` shows how old the numbers are.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from chats.models import MembershipEvent, Message, Notification, Publication
from metrics import retention
from metrics.models import HourlyCount, UserDayActivity
from metrics.reports import folders
from metrics.snapshot import redis_client
from ratelimits.models import RefusedAttempt

logger = logging.getLogger(__name__)

STORAGE_KEY = "observability:storage"


# The tables that grow with traffic (by `Model._meta.db_table`), each with its row budget: what
# it may hold before it is past what this deployment was sized for
# (the TableRowsOverBudget alert; docs/monitoring.md, "Storage"). Sized on the "year of traffic"
# of issue 24's benchmark: 10,000,000 messages a year (about 27,000 a day), with one live event
# per message and per membership change, 1,000,000 membership events a year and one email per
# admin (about 2) per join, 100,000 users, up to 10,000 of them active a day. Tables with a
# retention hold its window at that traffic; each budget is about twice that. Tables kept for
# ever hold a year's growth; their budget is two years of it, so the alert is the cue, a year
# ahead, to archive or partition them.
ROW_BUDGETS: dict[str, int] = {
    # 27,000 a day, kept for ever: 10 M a year.
    Message._meta.db_table: 20_000_000,
    # One per message and membership change, sent ones kept RETENTION_SENT_DAYS (31): ~0.9 M.
    Publication._meta.db_table: 2_000_000,
    # ~2 per join, sent, folded and cancelled ones kept 31 days, failed ones 90: ~0.2 M.
    Notification._meta.db_table: 500_000,
    # Joins and leaves, kept for ever (the statistics read them): 1 M a year.
    MembershipEvent._meta.db_table: 2_000_000,
    # One row per limit, client and hour refused, kept RETENTION_REFUSALS_DAYS (30): a thousand
    # addresses refused every hour of a month is 0.7 M.
    RefusedAttempt._meta.db_table: 1_000_000,
    # One row per statistic and hour, plus one per chat with messages in an hour: ~2.5 M a year.
    HourlyCount._meta.db_table: 5_000_000,
    # One row per active user and day: 10,000 a day is 3.65 M a year.
    UserDayActivity._meta.db_table: 8_000_000,
    # 100,000 users.
    get_user_model()._meta.db_table: 200_000,
}


# The retentions whose oldest row is measured: declared once, with the prune job.
RETENTIONS = retention.POLICIES

# The larger of the collector's live count and the planner's estimate (see the module's note);
# reltuples is -1 for a table never vacuumed or analysed (PostgreSQL 14+).
_ROWS_SQL = """
    SELECT c.relname, GREATEST(COALESCE(s.n_live_tup, 0), c.reltuples::bigint, 0)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND c.relname = ANY(%s)
"""


def table_rows() -> dict[str, int] | None:
    """Estimated rows per measured table from PostgreSQL's statistics; None on a database
    without them (SQLite), where only a full count could tell."""
    if connection.vendor != "postgresql":
        return None
    names = list(ROW_BUDGETS)
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL, [names])
        found = {name: int(rows) for name, rows in cursor.fetchall()}
    return {name: found.get(name, 0) for name in names}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def measure_storage(now: datetime | None = None) -> dict[str, Any]:
    """Rows per table, the report folder's bytes and the oldest row of each retention, at a cost
    that does not depend on how much is kept."""
    started = time.monotonic()
    now = now or timezone.now()
    oldest: dict[str, dict[str, str | None]] = {}
    retention_days: dict[str, dict[str, int]] = {}
    for policy in RETENTIONS:
        oldest.setdefault(policy.table, {})[policy.status] = _iso(policy.oldest())
        retention_days.setdefault(policy.table, {})[policy.status] = policy.days()
    rows = table_rows()
    return {
        "measured_at": _iso(now),
        "table_rows": rows,
        "reports_bytes": folders.reports_size_bytes(settings.REPORTS_DIR),
        "oldest": oldest,
        "retention_days": retention_days,
        "duration_seconds": round(time.monotonic() - started, 6),
    }


def store_storage(measured: Mapping[str, Any]) -> None:
    # No expiry, as the statistics snapshot: when the measurement stops, the last one stays and
    # its age (chatplatform_storage_measured_timestamp_seconds) is what the alert watches.
    redis_client().set(STORAGE_KEY, json.dumps(measured))


def refresh_storage() -> dict[str, Any]:
    measured = measure_storage()
    store_storage(measured)
    return measured


def load_storage() -> dict[str, Any] | None:
    """The stored measurement; None when there is none or Redis does not answer (a scrape never
    falls back to the database)."""
    try:
        raw = redis_client().get(STORAGE_KEY)
    except redis.RedisError:
        logger.warning("Redis unreachable: no storage measurement")
        return None
    return json.loads(raw) if raw else None

"""The live statistics snapshot: computed by beat, kept in Redis, read by every web process.

`compute_snapshot` reads the counts plus bounded raw tails (metrics.selectors), the running
totals (core.tallies) and the outbox rows in flight (partial indexes), so it costs a handful of
index reads whatever the history; it reads final counts only, the period
in progress raw (the fill's partial rows are left to the reports), so /metrics and /api/stats/
never see a provisional row and never count the current hour twice. `refresh_snapshot` stores
it under one Redis key; /metrics and /api/stats/ only read that key, so a scrape is cheap and
every web process answers the same. Failed Celery tasks are counted per minute in Redis by a
`task_failure` signal handler (connected in MetricsConfig.ready, so it runs in every worker).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone

from chats.models import Notification, Publication
from core import outbox, tallies
from core.redis_client import client as redis_client_for
from integrations import centrifugo

from . import contract, retention, selectors

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "metrics:snapshot"
FAILURES_KEY = "metrics:task_failures:"  # + minute number (epoch seconds // 60)
FAILURE_KEY_TTL = 2 * 3600


def redis_client() -> redis.Redis:
    """The Redis of settings.REDIS_URL (looked up each call: tests point it at their server)."""
    return redis_client_for(settings.REDIS_URL)


# --- failed tasks ------------------------------------------------------------------------------
# Flower counts the same failures (its task-failed events, `flower_events_total`), and operators
# read those: per task and worker, with the traceback, as a counter the alert rules and the Task
# health dashboard take rates of. Both counts stay, because neither can serve the other's reader:
# - the live page and /api/stats/ (staff; the notebooks with a staff token) get the number in the
#   snapshot beat computes every 5 s. Flower cannot give it there: it is an optional process on
#   the internal network (its API behind basic auth) and the snapshot must not stop when it is
#   down or not started; the app never queries Prometheus (it runs without one);
# - this count is one total over a sliding hour, not per task, and not a counter to rate().
# They count the same thing: a task's final failure (Celery's `task_failure` signal here, the
# worker's task-failed event in Flower), never a retry.


def record_task_failure(at: float | None = None) -> None:
    """Count one failed task in its minute's bucket (the buckets expire after two hours)."""
    key = f"{FAILURES_KEY}{int((at or time.time()) // 60)}"
    pipe = redis_client().pipeline()
    pipe.incr(key)
    pipe.expire(key, FAILURE_KEY_TTL)
    pipe.execute()


def tasks_failed_last_hour(now: float | None = None) -> int:
    """Failed tasks in the 60 minutes up to `now`: one MGET of the minute buckets."""
    minute = int((now or time.time()) // 60)
    keys = [f"{FAILURES_KEY}{m}" for m in range(minute - 59, minute + 1)]
    return sum(int(v) for v in redis_client().mget(keys) if v is not None)


def on_task_failure(sender: Any = None, **kwargs: Any) -> None:
    """celery.signals.task_failure handler; never lets a Redis problem hide the real failure."""
    try:
        record_task_failure()
    except redis.RedisError:
        logger.warning("could not count a failed task of %s", getattr(sender, "name", sender))


# --- the snapshot ------------------------------------------------------------------------------


def waiting(backlog: dict[str, int]) -> int:
    """An outbox's rows still to deliver: pending plus being sent (the live page's number)."""
    return backlog["pending"] + backlog["sending"]


def compute_snapshot(now: datetime | None = None) -> dict[str, Any]:
    """Every number of the live page and /metrics, from counts plus bounded raw tails, in the
    shape `metrics.contract` declares (it raises if one is missing or undeclared)."""
    now = now or timezone.now()
    notifications = outbox.backlog(Notification)
    publications = outbox.backlog(Publication)
    totals = tallies.values(["users", "chats"])
    try:
        failed = tasks_failed_last_hour(now.timestamp())
    except redis.RedisError:
        failed = None
    return contract.build(
        {
            "users": totals["users"],
            "chats": totals["chats"],
            "messages_total": selectors.messages_total(now),
            "messages_last_hour": selectors.messages_between(now - selectors.LAST_HOUR, now),
            "active_users_1d": selectors.active_users(now, 1),
            "active_users_7d": selectors.active_users(now, 7),
            "active_users_30d": selectors.active_users(now, 30),
            "new_users_last_day": selectors.new_users_since(now - selectors.LAST_DAY),
            "notifications_pending": waiting(notifications),
            "notifications_sent": notifications["sent"],
            "notifications_failed": notifications["failed"],
            "notifications_folded": notifications[Notification.FOLDED],
            "notifications_cancelled": notifications[Notification.CANCELLED],
            "notifications_held": notifications.get(Notification.HELD, 0),
            "publications_pending": waiting(publications),
            "publications_failed": publications["failed"],
            "publications": publications,
            "retention_deleted": retention.deleted_totals(),
            "tasks_failed_last_hour": failed,
            "online_users": centrifugo.online_users(),
            "messages_per_minute": selectors.messages_per_minute(now),
            "top_chats": selectors.top_chats(now - selectors.LAST_DAY, now),
            "jobs": selectors.job_runs(),
            "generated_at": now.astimezone(UTC).isoformat(),
        }
    )


def store_snapshot(snapshot: dict[str, Any]) -> None:
    # No expiry: when beat stops, the last snapshot stays and its age (generated_at,
    # chatplatform_snapshot_age_seconds) grows, which is what the alerts and the live page show.
    redis_client().set(SNAPSHOT_KEY, json.dumps(snapshot))


def refresh_snapshot(now: datetime | None = None) -> dict[str, Any]:
    snapshot = compute_snapshot(now)
    store_snapshot(snapshot)
    return snapshot


def load_snapshot() -> dict[str, Any] | None:
    """The stored snapshot, or None when none has been stored (raises if Redis is down)."""
    raw = redis_client().get(SNAPSHOT_KEY)
    return json.loads(raw) if raw else None


def current_snapshot() -> dict[str, Any] | None:
    """The stored snapshot; computed and stored once if there has never been one (a fresh
    install). None while Redis is unreachable: a scrape never falls back to the database."""
    try:
        return load_snapshot() or refresh_snapshot()
    except redis.RedisError:
        logger.warning("Redis unreachable: no statistics snapshot")
        return None

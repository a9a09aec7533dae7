"""The periodic jobs as plain functions (Celery tasks and management commands call these).

Each run is recorded in `JobRun` (start, success time, duration, failure), which /metrics exposes
so an alert fires when the statistics stop moving. The fill and the report take a Redis lock so
two overlapping beat ticks (a slow run, two beat processes) never work at once; the loser skips.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

import redis
from cent import CentError
from django.db.models import F
from django.utils import timezone

from integrations import centrifugo

from . import fill, retention, snapshot
from .models import JobRun
from .reports.make import ReportRun, make_report_and_prune

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOCK_SECONDS = 600  # above the tasks' time limits: a killed run's lock expires by itself


@contextmanager
def recorded(job: str) -> Iterator[None]:
    """Record the run of `job` in JobRun: success time and duration, or the failure."""
    started = time.monotonic()
    JobRun.objects.update_or_create(job=job, defaults={"last_started_at": timezone.now()})
    try:
        yield
    except Exception as exc:
        JobRun.objects.filter(job=job).update(
            last_failure_at=timezone.now(), last_error=repr(exc)[:2000], failures=F("failures") + 1
        )
        raise
    JobRun.objects.filter(job=job).update(
        last_success_at=timezone.now(),
        last_duration_seconds=time.monotonic() - started,
        successes=F("successes") + 1,
    )


@contextmanager
def exclusive(job: str) -> Iterator[bool]:
    """A Redis lock per job; yields False (and the caller skips) when another run holds it.

    Without Redis there is no broker either, so no beat run to race with (make up's first run
    fills before Redis starts): the job runs unlocked rather than not at all.
    """
    lock = snapshot.redis_client().lock(f"metrics:lock:{job}", timeout=LOCK_SECONDS)
    try:
        acquired = lock.acquire(blocking=False)
    except redis.ConnectionError:
        logger.warning("%s: Redis does not answer, running without the lock", job)
        yield True
        return
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


def run_once(job: str, work: Callable[[], T]) -> T | None:
    """Run `work` as `job`: under its lock and recorded in JobRun; None (skipped) when another
    run holds the lock."""
    with exclusive(job) as acquired:
        if not acquired:
            logger.info("%s: another run is in progress, skipping", job)
            return None
        with recorded(job):
            return work()


def run_fill(since: datetime | None = None, rebuild: bool = False) -> fill.FillReport | None:
    """Fill the missing slices, or with `rebuild` recount from `since` (None: everything).
    None when another run holds the lock."""
    if rebuild:
        return run_once("fill_stats", lambda: fill.rebuild_activity_counts(since=since))
    return run_once("fill_stats", fill.fill_activity_counts)


def run_report(reports_dir: str | None = None, days: int | None = None) -> ReportRun | None:
    """Write a report and prune the old ones (defaults from settings): the folder, and how many
    folders were deleted; None when another run holds the lock."""

    def report() -> ReportRun:
        run = make_report_and_prune(reports_dir=reports_dir, days=days)
        retention.add_deleted({"reports": run.deleted})
        return run

    return run_once("make_report", report)


def run_prune() -> dict[str, int] | None:
    """Delete what is past its retention (metrics.retention); None when another run holds the
    lock."""
    return run_once("prune", retention.prune)


def run_live_stats() -> dict:
    """Recompute and store the snapshot, then publish it; a Centrifugo outage only logs."""
    data = snapshot.refresh_snapshot()
    try:
        centrifugo.publish(centrifugo.STATS_CHANNEL, data)
    except (CentError, OSError):
        logger.warning("could not publish the live statistics", exc_info=True)
    return data

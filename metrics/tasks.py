"""Celery tasks of the metrics app, fired by beat (schedule in settings.CELERY_BEAT_SCHEDULE).

Thin wrappers: plain functions in `metrics.jobs` do the work and record each run in `JobRun`.
No retries: the next beat tick is the retry, and every job is idempotent.
"""

from celery import shared_task


@shared_task(soft_time_limit=240, time_limit=300)
def fill_stats_task() -> dict:
    """Fill the statistics' missing time slices (incremental; a crashed step is redone)."""
    from . import jobs

    report = jobs.run_fill()
    if report is None:
        return {"skipped": True}
    return {"slices": report.slices, "rows": report.rows, "redone": report.redone}


@shared_task(soft_time_limit=240, time_limit=300)
def make_report_task() -> str:
    """Write a report folder from the counts and point `latest` at it."""
    from . import jobs

    return str(jobs.run_report())


@shared_task(soft_time_limit=270, time_limit=300)
def prune_task() -> dict:
    """Delete finished outbox rows and refusal rows past their retention, in small batches."""
    from . import jobs

    return jobs.run_prune() or {"skipped": True}


@shared_task(soft_time_limit=20, time_limit=30, ignore_result=True)
def publish_live_stats_task() -> None:
    """Recompute the snapshot (cache + /metrics) and publish it to the live page's channel."""
    from . import jobs

    jobs.run_live_stats()

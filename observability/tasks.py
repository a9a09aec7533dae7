"""Celery tasks of observability, fired by beat (schedule in settings.CELERY_BEAT_SCHEDULE).

No retries: the next beat tick (STORAGE_SECONDS) is the retry, and a measurement is read-only.
"""

from celery import shared_task


@shared_task(soft_time_limit=30, time_limit=45, ignore_result=True)
def measure_storage_task() -> None:
    """Measure rows per table, the report folder's size and the oldest row of each retention,
    and store it in Redis for /metrics (observability.storage)."""
    from . import storage

    storage.refresh_storage()

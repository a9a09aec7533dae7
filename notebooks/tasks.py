"""The Celery task of the notebooks app, fired by beat once a day (settings.CELERY_BEAT_SCHEDULE)
and routed to the `reports` queue with the report job.

No retries: the next day's run is the retry, and rendering is idempotent.
"""

from celery import shared_task


@shared_task(soft_time_limit=1200, time_limit=1500)
def render_notebooks_task() -> object:
    """Render the analysis notebooks on the latest report and publish them (notebooks/render.py)."""
    # Imported here: every worker group imports this module, and only the reports workers
    # should pay for pandas and papermill.
    from .render import render_latest

    return render_latest()

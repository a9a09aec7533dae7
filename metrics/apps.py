from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Activity statistics"

    def ready(self) -> None:
        from celery import signals

        from . import celery_watch
        from .snapshot import on_task_failure

        # Failed tasks for the live page and /api/stats/ (Flower counts them too, for operators:
        # why both stay is said in metrics/snapshot.py).
        signals.task_failure.connect(on_task_failure, weak=False, dispatch_uid="metrics-failure")
        # Queue health (metrics.celery_watch): every sender stamps, workers observe and beat.
        for signal, handler in (
            (signals.before_task_publish, celery_watch.stamp_sent_at),
            (signals.task_prerun, celery_watch.observe_queue_wait),
            (signals.worker_ready, celery_watch.on_worker_ready),
            (signals.worker_shutdown, celery_watch.on_worker_shutdown),
        ):
            signal.connect(handler, weak=False, dispatch_uid=f"metrics-{handler.__name__}")

"""Observability: what operators watch, apart from the activity statistics (metrics/).

The Prometheus exporter and request-latency middleware (`prometheus`), queue health read from
the broker (`queues`), the Celery watch (`celery_watch`) and the import of past gauges into
Prometheus (`history`). No models: it reads metrics' snapshot and the broker's Redis.
"""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from celery import signals

        from . import celery_watch

        # Queue health (observability.celery_watch): every sender stamps, workers observe and beat.
        for signal, handler in (
            (signals.before_task_publish, celery_watch.stamp_sent_at),
            (signals.task_prerun, celery_watch.observe_queue_wait),
            (signals.worker_ready, celery_watch.on_worker_ready),
            (signals.worker_shutdown, celery_watch.on_worker_shutdown),
        ):
            signal.connect(handler, weak=False, dispatch_uid=f"observability-{handler.__name__}")

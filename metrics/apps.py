from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Activity statistics"

    def ready(self) -> None:
        from celery import signals

        from .snapshot import on_task_failure

        # Failed tasks for the live page and /api/stats/ (Flower counts them too, for operators:
        # why both stay is said in metrics/snapshot.py).
        signals.task_failure.connect(on_task_failure, weak=False, dispatch_uid="metrics-failure")

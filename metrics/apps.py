from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Activity statistics"

    def ready(self) -> None:
        from celery.signals import task_failure

        from .snapshot import on_task_failure

        task_failure.connect(on_task_failure, weak=False, dispatch_uid="metrics-task-failure")

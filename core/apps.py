from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Shared domain code; its one model is the tallies (core.tallies)."""

    name = "core"
    verbose_name = "Core"

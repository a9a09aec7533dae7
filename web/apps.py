from django.apps import AppConfig


class WebConfig(AppConfig):
    """Templates `web/*.html` and static files `web/*`, loaded by the pages of every app."""

    name = "web"

"""What Prometheus scrapes from the web process (guarded by METRICS_BEARER_TOKEN, see the view)."""

from django.urls import path

from .prometheus import metrics_view

urlpatterns = [path("metrics", metrics_view, name="metrics")]

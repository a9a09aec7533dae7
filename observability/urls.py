"""What Prometheus scrapes from the web process (guarded by METRICS_BEARER_TOKEN, see the view),
and what the chat pages report to it: the clock they correct by and the lags they measured
(observability.browser_lag)."""

from django.urls import path

from .browser_lag import ClockView, LagReportView
from .prometheus import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    path("api/live/clock/", ClockView.as_view(), name="live-clock"),
    path("api/live/lag/", LagReportView.as_view(), name="live-lag"),
]

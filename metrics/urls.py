"""The activity statistics: the JSON snapshot for staff and notebooks, and the live page."""

from django.urls import path

from .pages import live_stats_page
from .views import StatsView

urlpatterns = [
    path("api/stats/", StatsView.as_view(), name="stats"),
    path("live/", live_stats_page, name="live-stats"),
]

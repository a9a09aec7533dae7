from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from metrics.prometheus import metrics_view
from metrics.views import StatsView

from .health import healthz
from .pages import PageLoginView, chat_page, live_stats_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/stats/", StatsView.as_view(), name="stats"),
    path("api/", include("chats.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("live/", live_stats_page, name="live-stats"),
    path("chat/", chat_page, name="chat-page"),
    path("login/", PageLoginView.as_view(), name="page-login"),
]

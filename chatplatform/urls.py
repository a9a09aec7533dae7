"""Every URL of the platform; each app's API and pages come from the app."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from chats.email_pages import email_settings_page, unsubscribe_page
from chats.pages import PageLoginView, chat_page
from core.health import healthz
from metrics.pages import live_stats_page
from metrics.views import StatsView
from monitoring.runbooks import runbooks_page
from observability.prometheus import metrics_view
from ratelimits.decorators import throttle_posts
from ratelimits.throttles import AUTH_THROTTLES

urlpatterns = [
    # The admin's login, with the same limits on attempts as /login/ and /api/auth/token/.
    path("admin/login/", throttle_posts(*AUTH_THROTTLES)(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/stats/", StatsView.as_view(), name="stats"),
    path("api/", include("chats.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("live/", live_stats_page, name="live-stats"),
    path("runbooks/", runbooks_page, name="runbooks"),
    path("dashboards/", include("monitoring.urls")),
    path("chat/", chat_page, name="chat-page"),
    path("login/", PageLoginView.as_view(), name="page-login"),
    path("settings/email/", email_settings_page, name="email-settings"),
    path("email/unsubscribe/<str:token>/", unsubscribe_page, name="email-unsubscribe"),
]
# A URL no route matches answers JSON under /api/ (the schema documents JSON errors only).
handler404 = "core.errors.not_found"

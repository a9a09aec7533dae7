"""Every URL of the platform: each app's pages and API come from the app's own urls.py."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import healthz, livez
from ratelimits.decorators import throttle_posts
from ratelimits.throttles import AUTH_THROTTLES

urlpatterns = [
    # The admin's login, with the same limits on attempts as /login/ and /api/auth/token/.
    path("admin/login/", throttle_posts(*AUTH_THROTTLES)(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("", include("observability.urls")),
    path("", include("metrics.urls")),
    path("", include("monitoring.urls")),
    path("", include("accounts.urls")),
    path("", include("chats.urls")),
]
# A URL no route matches answers JSON under /api/ (the schema documents JSON errors only).
handler404 = "core.errors.not_found"

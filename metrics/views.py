"""GET /api/stats/: the live statistics snapshot as JSON (for the live page and notebooks), for
staff only, like the live page and its channel: it names the busiest chats and platform totals.
And for one machine with no account, compose's Jupyter: `Authorization: Bearer
<STATS_READ_TOKEN>`, which this view alone accepts, so the token reads these figures and opens
nothing else (no user, no other endpoint).

The response is the snapshot beat stored, as is; its shape is `metrics.contract`'s declaration,
which is also what the OpenAPI schema shows.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.secrets import bearer_token, is_secret

from .contract import SnapshotSerializer
from .snapshot import current_snapshot

UNAVAILABLE = inline_serializer(
    "StatsUnavailable",
    {"detail": serializers.CharField(help_text="No snapshot yet, or Redis does not answer.")},
)
REFUSED = inline_serializer(
    "StatsRefused", {"detail": serializers.CharField(help_text="Why the request was refused.")}
)


class StatsReadToken:
    """`request.auth` of a request that presented STATS_READ_TOKEN (its user is anonymous)."""


class StatsReadTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <STATS_READ_TOKEN>`, compared as /metrics compares its token
    (core.secrets). Any other bearer token, or any at all while the setting is empty, is a 401:
    refused here, not passed on as an anonymous request."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, StatsReadToken] | None:
        given = bearer_token(request.headers.get("Authorization", ""))
        if given is None:
            return None  # no bearer token: the user's own token or session decides
        if not is_secret(given, settings.STATS_READ_TOKEN):
            raise AuthenticationFailed("Wrong bearer token.")
        return AnonymousUser(), StatsReadToken()

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="stats"'


class StatsReadTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the token (drf-spectacular finds it by its target)."""

    target_class = StatsReadTokenAuthentication
    name = "statsReadToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "STATS_READ_TOKEN: reads /api/stats/ and nothing else.",
        }


class PresentedStatsReadToken(BasePermission):
    """A read authenticated with STATS_READ_TOKEN (it has no user to be staff): GET or HEAD
    only, so a method added to the view later is not opened to the token with it."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, StatsReadToken) and request.method in ("GET", "HEAD")


class StatsView(APIView):
    """Staff (session or token) read the same precomputed snapshot. IsAdminUser is DRF's
    `is_staff` check, the rule of the live page (`staff_member_required`) and of `stats:live`.
    Or STATS_READ_TOKEN: its authentication is listed here only, after the usual ones."""

    authentication_classes = [
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,
        StatsReadTokenAuthentication,
    ]
    permission_classes = [IsAdminUser | PresentedStatsReadToken]

    @extend_schema(
        responses={
            200: SnapshotSerializer,
            401: OpenApiResponse(REFUSED, description="Not logged in, or a wrong token."),
            403: OpenApiResponse(REFUSED, description="Not staff."),
            503: UNAVAILABLE,
        },
        summary="Live activity statistics (staff, or the read-only STATS_READ_TOKEN)",
    )
    def get(self, request: Request) -> Response:
        snapshot = current_snapshot()
        if snapshot is None:
            return Response({"detail": "statistics are not available yet"}, status=503)
        return Response(snapshot)

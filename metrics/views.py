"""GET /api/stats/: the live statistics snapshot as JSON (for the live page and notebooks), for
staff only, like the live page and its channel: it names the busiest chats and platform totals.

The response is the snapshot beat stored, as is; its shape is `metrics.contract`'s declaration,
which is also what the OpenAPI schema shows.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .contract import SnapshotSerializer
from .snapshot import current_snapshot

UNAVAILABLE = inline_serializer(
    "StatsUnavailable",
    {"detail": serializers.CharField(help_text="No snapshot yet, or Redis does not answer.")},
)
REFUSED = inline_serializer(
    "StatsRefused", {"detail": serializers.CharField(help_text="Why the request was refused.")}
)


class StatsView(APIView):
    """Staff (session or token) read the same precomputed snapshot. IsAdminUser is DRF's
    `is_staff` check, the rule of the live page (`staff_member_required`) and of `stats:live`."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        responses={
            200: SnapshotSerializer,
            401: OpenApiResponse(REFUSED, description="Not logged in."),
            403: OpenApiResponse(REFUSED, description="Not staff."),
            503: UNAVAILABLE,
        },
        summary="Live activity statistics (staff)",
    )
    def get(self, request: Request) -> Response:
        snapshot = current_snapshot()
        if snapshot is None:
            return Response({"detail": "statistics are not available yet"}, status=503)
        return Response(snapshot)

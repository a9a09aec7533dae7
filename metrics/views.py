"""GET /api/stats/: the live statistics snapshot as JSON (for the live page and notebooks).

The response is the snapshot beat stored, as is; its shape is `metrics.contract`'s declaration,
which is also what the OpenAPI schema shows.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .contract import SnapshotSerializer
from .snapshot import current_snapshot

UNAVAILABLE = inline_serializer(
    "StatsUnavailable",
    {"detail": serializers.CharField(help_text="No snapshot yet, or Redis does not answer.")},
)


class StatsView(APIView):
    """Any logged-in user (session or token) reads the same precomputed snapshot."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: SnapshotSerializer, 503: UNAVAILABLE}, summary="Live activity statistics"
    )
    def get(self, request: Request) -> Response:
        snapshot = current_snapshot()
        if snapshot is None:
            return Response({"detail": "statistics are not available yet"}, status=503)
        return Response(snapshot)

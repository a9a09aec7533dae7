"""GET /api/stats/: the live statistics snapshot as JSON (for the live page and notebooks)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .snapshot import current_snapshot


class StatsView(APIView):
    """Any logged-in user (session or token) reads the same precomputed snapshot."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: dict, 503: dict}, summary="Live activity statistics")
    def get(self, request: Request) -> Response:
        snapshot = current_snapshot()
        if snapshot is None:
            return Response({"detail": "statistics are not available yet"}, status=503)
        return Response(snapshot)

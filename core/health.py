"""GET /healthz: 200 when the database and Redis answer, 503 naming what is down."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import redis_client


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _redis_ok() -> bool:
    try:
        return bool(redis_client.client(settings.CELERY_BROKER_URL).ping())
    except Exception:
        return False


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "down"])
    down = serializers.ListField(child=serializers.CharField(), help_text="What does not answer.")
    database = serializers.BooleanField()
    redis = serializers.BooleanField()


# A DRF view only so that the OpenAPI schema documents it; no login, JSON only.
class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="healthz",
        description="200 when the database and Redis answer; 503 naming what is down.",
        responses={200: HealthSerializer, 503: HealthSerializer},
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _database_ok(), "redis": _redis_ok()}
        down = [name for name, ok in checks.items() if not ok]
        body = {"status": "ok" if not down else "down", "down": down, **checks}
        return Response(body, status=200 if not down else 503)


healthz = HealthView.as_view()


def livez(request: HttpRequest) -> HttpResponse:
    """GET /livez: 200 while the process answers, touching neither the database nor Redis.

    For a process manager's liveness probe (restart only a stuck process, not one whose database
    is down: /healthz says that), and the floor of the capacity benchmark: what the server costs
    a request with nothing behind it."""
    return HttpResponse("ok\n", content_type="text/plain")

"""Domain errors raised by services, and the REST framework handler that answers them as 4xx
responses naming the field."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class TooMany(DomainError):
    """A limit of the domain (not a request rate): answered 429 with Retry-After."""

    status_code = 429

    def __init__(self, message: str, field: str | None = None, retry_after: int = 60) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer domain errors as `{field: [message]}` (or `{detail}`) with their 4xx status."""
    if isinstance(exc, DomainError):
        body = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooMany) else None
        return Response(body, status=exc.status_code, headers=headers)
    return drf_exception_handler(exc, context)


def is_api_request(request: HttpRequest) -> bool:
    """Under /api/: errors made outside DRF's views (a 404, a 413) answer JSON there too, as
    the schema documents, so a client parses one content type."""
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 for a URL no route matches (e.g. an id longer than the path converter takes):
    JSON under /api/, as every other API error, so a client parses one content type; the HTML
    page elsewhere. (With DEBUG on, Django shows its own debug page instead.)"""
    if is_api_request(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)

"""413 for a request body over settings.DATA_UPLOAD_MAX_MEMORY_SIZE (env REQUEST_MAX_BYTES).

Django refuses such a body with a 400 (RequestDataTooBig), and only where it reads
`request.body` or `request.POST`: the REST framework's JSON parser reads the stream itself, so an
unauthenticated 10 MB POST to /api/auth/register/ was read and parsed whole. This middleware
answers from the Content-Length header, before anything reads the body (gunicorn then closes the
connection without reading it). It is the one place: under WSGI the body Django reads is bounded
by that header, so past this check Django's own RequestDataTooBig cannot fire.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.errors import is_api_request


def too_large_response(request: HttpRequest) -> HttpResponse:
    """413 naming the limit, so a client knows what to send instead: JSON `{"detail": ...}` for
    the API (as its other errors), plain text elsewhere."""
    detail = (
        "Request body too large: at most"
        f" {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes are accepted."
    )
    if is_api_request(request):
        return JsonResponse({"detail": detail}, status=413)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")


def declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django treats it as no body too


class RequestSizeLimitMiddleware:
    """413 before the body is read when Content-Length is over the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Multipart bodies too: the platform takes no file uploads, and Django would otherwise
        # parse a form's fields before refusing them (with a 400, inside CSRF's middleware).
        if limit is not None and declared_length(request) > limit:
            return too_large_response(request)
        return self.get_response(request)

"""Cursor pagination for every list endpoint of the API: one concept, in one place.

A page is `{"next": url|null, "previous": url|null, "results": [...]}`. The cursor is opaque and
stable while rows are added, and a page costs the same however long the list is (an index range,
never an OFFSET). `page_size` picks the page size up to `API_MAX_PAGE_SIZE`: more is clamped to
it, and a value that is not a positive integer means the default (DRF's behaviour). Both sizes are
settings (chatplatform/settings/api.py), read per request.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, QuerySet
from rest_framework.exceptions import NotFound as DRFNotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import DomainError


class CursorPage(CursorPagination):
    """Oldest first by id: unique, so no two rows share a position and a page boundary never
    skips or repeats one, and the primary key index serves every page."""

    ordering: str | tuple[str, ...] = "id"
    page_size_query_param = "page_size"
    cursor_query_description = (
        "Opaque position from a `next` or `previous` link; omit it for the first page."
    )

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: APIView | None = None
    ) -> list | None:
        self._position_field = _field(queryset, self.ordering)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        """`page_size` if it is a positive integer, at most the maximum; else the default."""
        maximum = settings.API_MAX_PAGE_SIZE
        asked = request.query_params.get(self.page_size_query_param, "")
        if asked.isascii() and asked.isdigit() and int(asked) > 0:
            return min(int(asked), maximum)
        return min(settings.API_PAGE_SIZE, maximum)

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A malformed cursor is a 400 naming `cursor` (not DRF's 404, nor a 500 from a position
        that is no value of the ordering field, such as a word where an id or a time belongs)."""
        try:
            cursor = super().decode_cursor(request)
        except DRFNotFound:
            cursor, valid = None, False
        else:
            valid = cursor is None or cursor.position is None or self._valid_position(cursor)
        if not valid:
            raise DomainError("Invalid cursor.", field=self.cursor_query_param)
        return cursor

    def _valid_position(self, cursor: Cursor) -> bool:
        field = getattr(self, "_position_field", None)
        if field is None:
            return True
        try:
            field.to_python(cursor.position)
        except (ValidationError, ValueError, TypeError, OverflowError):
            return False
        return True

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        """The query parameters as the schema shows them, with the default and maximum size."""
        default, maximum = settings.API_PAGE_SIZE, settings.API_MAX_PAGE_SIZE
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Results per page: {default} by default, at most {maximum} (a larger value "
                    "gives the maximum; one that is not a positive integer, the default)."
                ),
                "schema": {"type": "integer"},
            },
        ]


class MessagePagination(CursorPage):
    """Newest first; the cursor is a time (ties broken by id), stable while messages arrive."""

    ordering = ("-created_at", "-id")


def _field(queryset: QuerySet, ordering: str | tuple[str, ...]) -> Field | None:
    """The model field whose values are a cursor's position: the first ordering field."""
    first = ordering if isinstance(ordering, str) else ordering[0]
    try:
        return queryset.model._meta.get_field(first.lstrip("-"))
    except FieldDoesNotExist:
        return None

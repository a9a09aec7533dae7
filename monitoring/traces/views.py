"""The trace pages for staff: /traces/ (search by chat, message, notification or trace id, or
the slowest traces of a service over a time range, where the latency panels link) and
/traces/<trace_id>/ (one trace as a waterfall), read from Jaeger's query API.

Jaeger down or not configured is a message on the page (503, or 200 when traces are off by
configuration), never a 500; a malformed id is a 400 naming the field.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from monitoring.traces import jaeger
from monitoring.traces.model import TRACE_ID, merge, summarize, waterfall

# The search form's id fields and the span attribute each one matches (the app sets them as
# strings of ints on its spans).
ID_FIELDS = {"chat_id": "chat.id", "message_id": "message.id", "notification_id": "notification.id"}
RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}
DEFAULT_RANGE = "1h"
# A clicked point's quantile summarises the rate window before it: search that long before the
# point, and a little after (a request is recorded when it ends, its trace at its start).
POINT_BEFORE_S, POINT_AFTER_S = 300, 30
MAX_WINDOW_S = 86400
LIMITS = (20, 50, 100)
# Fetched per service for "slowest first": Jaeger returns the newest matches, the page sorts.
SLOWEST_FETCH = 200
SORTS = {"recent": "Newest first", "slowest": "Slowest first"}


class BadInput(ValueError):
    """A search field the page refuses; the message names it."""


@dataclass
class Search:
    """A search as the form states it, validated."""

    tags: dict[str, str] = field(default_factory=dict)
    service: str = ""
    operation: str = ""
    start_us: int = 0
    end_us: int = 0
    min_ms: int | None = None
    sort: str = "recent"
    limit: int = LIMITS[0]


def _digits(request: HttpRequest, name: str, label: str) -> str | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise BadInput(f"{label} must be a whole number (digits only), not {raw[:40]!r}.")
    return str(int(raw))


def normalized_trace_id(raw: str) -> str:
    """The trace id Jaeger keys on (lower-case hex, 16 or 32 digits); BadInput otherwise."""
    trace_id = raw.strip().lower()
    if not TRACE_ID.fullmatch(trace_id):
        raise BadInput(f"A trace id is 16 or 32 hexadecimal digits, not {raw[:40]!r}.")
    return trace_id


def parse_search(request: HttpRequest, now: float | None = None) -> Search:
    """The search of the query string: ids, service, operation, time window, sort, limit.

    The window is, by precedence: `at` (epoch ms of a clicked point; `window` seconds before it,
    300 by default), then `start` and `end` (epoch ms, as Grafana's ${__from} and ${__to}), then
    `range` (15m ... 7d) before now."""
    now = time.time() if now is None else now
    search = Search()
    for name, attribute in ID_FIELDS.items():
        value = _digits(request, name, name.replace("_", " ").capitalize())
        if value is not None:
            search.tags[attribute] = value
    search.service = request.GET.get("service", "").strip()[:200]
    search.operation = request.GET.get("operation", "").strip()[:200]
    at = _digits(request, "at", "at (epoch milliseconds)")
    start = _digits(request, "start", "start (epoch milliseconds)")
    end = _digits(request, "end", "end (epoch milliseconds)")
    if at is not None:
        window = int(_digits(request, "window", "window (seconds)") or POINT_BEFORE_S)
        window = min(max(window, 1), MAX_WINDOW_S)
        start_s, end_s = int(at) / 1000 - window, int(at) / 1000 + POINT_AFTER_S
    elif start is not None or end is not None:
        end_s = int(end) / 1000 if end is not None else now
        start_s = int(start) / 1000 if start is not None else end_s - RANGES[DEFAULT_RANGE]
        if end_s <= start_s:
            raise BadInput("end must be after start.")
    else:
        chosen = request.GET.get("range", DEFAULT_RANGE)
        if chosen not in RANGES:
            raise BadInput(f"range must be one of {', '.join(RANGES)}.")
        start_s, end_s = now - RANGES[chosen], now
    search.start_us, search.end_us = int(start_s * 1e6), int(end_s * 1e6)
    min_ms = _digits(request, "min_ms", "Minimum duration (ms)")
    search.min_ms = int(min_ms) if min_ms else None
    search.sort = request.GET.get("sort", "recent")
    if search.sort not in SORTS:
        raise BadInput(f"sort must be one of {', '.join(SORTS)}.")
    limit = _digits(request, "limit", "limit")
    search.limit = min(int(limit), LIMITS[-1]) if limit else LIMITS[0]
    return search


def _services(wanted: str) -> list[str]:
    """The services to search: every one Jaeger knows for "", those with the prefix for
    "prefix*", else the one named (if Jaeger knows it: a search of an unknown one is empty)."""
    known = jaeger.services()
    if not wanted:
        return known
    if wanted.endswith("*"):
        return [name for name in known if name.startswith(wanted[:-1])]
    return [wanted] if wanted in known else []


def run_search(search: Search) -> list[dict]:
    """The traces of `search`, from every service it covers, each trace once, sorted."""
    fetch = SLOWEST_FETCH if search.sort == "slowest" else search.limit
    found: list[dict] = []
    for service in _services(search.service):
        found += jaeger.find_traces(
            service,
            operation=search.operation or None,
            tags=search.tags or None,
            start_us=search.start_us,
            end_us=search.end_us,
            min_duration=f"{search.min_ms}ms" if search.min_ms else None,
            limit=fetch,
        )
    summaries = [summarize(trace) for trace in merge(found)]
    if search.sort == "slowest":
        summaries.sort(key=lambda s: (-s.duration_us, -s.start_us))
    else:
        summaries.sort(key=lambda s: -s.start_us)
    return summaries[: search.limit]


@staff_member_required
def trace_search(request: HttpRequest) -> HttpResponse:
    """The search form and, once anything is asked, the traces found."""
    context: dict[str, Any] = {
        "form": request.GET,
        "ranges": RANGES,
        "sorts": SORTS,
        "limits": LIMITS,
        "configured": jaeger.configured(),
        "searched": bool(request.GET),
    }
    raw_trace_id = request.GET.get("trace_id", "").strip()
    try:
        if raw_trace_id:
            trace_id = normalized_trace_id(raw_trace_id)
            return redirect(reverse("traces:trace", args=[trace_id]))
        search = parse_search(request)
    except BadInput as exc:
        context["error"] = str(exc)
        return render(request, "monitoring/traces.html", context, status=400)
    context["search"] = search
    context["search_start"] = datetime.fromtimestamp(search.start_us / 1e6, tz=UTC)
    context["search_end"] = datetime.fromtimestamp(search.end_us / 1e6, tz=UTC)
    if not context["configured"]:
        context["error"] = "Traces are off: JAEGER_QUERY_URL is not set."
        return render(request, "monitoring/traces.html", context, status=200)
    try:
        context["services"] = jaeger.services()
        if context["searched"]:
            context["traces"] = run_search(search)
    except jaeger.JaegerUnavailable as exc:
        context["error"] = str(exc)
        return render(request, "monitoring/traces.html", context, status=503)
    return render(request, "monitoring/traces.html", context, status=200)


# Attributes whose value the waterfall links to a search (the same id in other traces).
SEARCHABLE = {attribute: name for name, attribute in ID_FIELDS.items()}


@staff_member_required
def trace_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    """One trace as a waterfall: a row per span under its parent, its bar placed and sized on
    the trace's time; attributes and events under each row."""
    context: dict[str, Any] = {"trace_id": trace_id}
    try:
        trace_id = normalized_trace_id(trace_id)
    except BadInput as exc:
        context["error"] = str(exc)
        return render(request, "monitoring/trace.html", context, status=400)
    context["trace_id"] = trace_id
    if not jaeger.configured():
        context["error"] = "Traces are off: JAEGER_QUERY_URL is not set."
        return render(request, "monitoring/trace.html", context, status=200)
    try:
        trace = jaeger.get_trace(trace_id)
    except jaeger.JaegerUnavailable as exc:
        context["error"] = str(exc)
        return render(request, "monitoring/trace.html", context, status=503)
    if trace is None:
        context["error"] = (
            f"Jaeger holds no trace {trace_id}: not sent (yet), not sampled, or evicted."
        )
        return render(request, "monitoring/trace.html", context, status=404)
    context["summary"] = summarize(trace)
    context["rows"] = rows = waterfall(trace)
    search_url = reverse("traces:search")
    for row in rows:
        row.attributes = [
            (key, value, f"{search_url}?{urlencode({SEARCHABLE[key]: value})}")
            if key in SEARCHABLE and value.isdigit()
            else (key, value, "")
            for key, value in row.tags
        ]
    return render(request, "monitoring/trace.html", context, status=200)

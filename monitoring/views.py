"""The Grafana dashboards drawn in the app (/dashboards/), for whoever runs no Grafana.

The pages read their panels (kind, title, description, unit, thresholds, queries and legends,
rows, widths) from the same JSON models Grafana loads (`build.build_all()`), so the two never
drift apart. The browser never sends PromQL: it asks for one panel's data by dashboard uid and
panel id, and monitoring.panel_data runs that panel's own queries against Prometheus.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from monitoring.grafana import build
from monitoring.panel_data import PrometheusUnavailable, panel_data

# The picker's choices, in seconds (the page's ?range= takes the names).
RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}
DEFAULT_RANGE = "1h"
MAX_RANGE = 31 * 86400
# About one point per 3 px of a full-width panel, as Grafana's maxDataPoints does.
MAX_POINTS = 400
PROMETHEUS_LIMIT = 11000  # Prometheus refuses a range query with more points per series.
REFRESH_SECONDS = 30
COLORS = {  # Grafana's named threshold colours
    "green": "#73bf69",
    "red": "#f2495c",
    "blue": "#5794f2",
    "yellow": "#fade2a",
    "orange": "#ff9830",
    "purple": "#b877d9",
}


class BadParameter(ValueError):
    """A query parameter the data endpoint refuses; the message names it."""


def staff_data(view: Callable) -> Callable:
    """The data endpoint's gate: the pages' rule (`staff_member_required`, as /live/), answered
    as 403 JSON, since a panel's fetch cannot follow a redirect to the login page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_active and request.user.is_staff:
            return view(request, *args, **kwargs)
        return JsonResponse({"error": "Staff only: sign in as staff."}, status=403)

    return wrapped


@functools.cache
def dashboards() -> dict[str, dict]:
    """Every dashboard's Grafana model by uid (built once per process: the code does not change
    while it runs)."""
    return build.build_all()


def dashboard_or_404(uid: str) -> dict:
    try:
        return dashboards()[uid]
    except KeyError:
        raise Http404(f"No dashboard {uid!r}") from None


def _int_param(request: HttpRequest, name: str, default: int | None = None) -> int:
    raw = request.GET.get(name)
    if raw is None and default is not None:
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise BadParameter(f"{name} must be a whole number of seconds") from None


def _time_grid(request: HttpRequest) -> tuple[int, int, int]:
    """(range, step, end) in seconds from the query string; end is aligned to the step so
    every query of a panel (and every refresh) shares one time grid."""
    range_seconds = _int_param(request, "range", RANGES[DEFAULT_RANGE])
    if not 60 <= range_seconds <= MAX_RANGE:
        raise BadParameter(f"range must be between 60 and {MAX_RANGE} seconds")
    step = _int_param(request, "step", max(1, math.ceil(range_seconds / MAX_POINTS)))
    if step < 1:
        raise BadParameter("step must be at least 1 second")
    if range_seconds / step > PROMETHEUS_LIMIT:
        raise BadParameter(f"step too small: more than {PROMETHEUS_LIMIT} points in the range")
    end = math.floor(time.time() / step) * step
    return range_seconds, step, end


def layout(model: dict) -> list[dict]:
    """The dashboard as rows of panels, in Grafana's order (top to bottom, left to right), with
    what the page needs of each panel; panels above the first row get an untitled row."""
    rows: list[dict] = []
    for panel in sorted(model["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if panel["type"] == "row":
            rows.append({"title": panel["title"], "panels": []})
            continue
        if not rows:
            rows.append({"title": "", "panels": []})
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        steps = defaults.get("thresholds", {}).get("steps", [])
        rows[-1]["panels"].append(
            {
                "id": panel["id"],
                "title": panel["title"],
                "description": panel.get("description", ""),
                "type": panel["type"],
                "unit": defaults.get("unit", "none"),
                "min": defaults.get("min"),
                "thresholds": [
                    {"value": s["value"], "color": COLORS.get(s["color"], s["color"])}
                    for s in steps
                ],
                "legends": [t.get("legendFormat", "") for t in panel.get("targets", [])],
                "width": panel["gridPos"]["w"],
                "height": panel["gridPos"]["h"],
                # Grafana's link templates (${app_url}, ${__value.time}, ${__from}, ${__to}):
                # dashboards.js fills them in and follows them (a clicked point, the range).
                "pointLinks": [link["url"] for link in defaults.get("links", [])],
                "rangeLinks": [link["url"] for link in panel.get("links", [])],
            }
        )
    return rows


@staff_member_required
def dashboard_list(request: HttpRequest) -> HttpResponse:
    items = [
        {
            "uid": uid,
            "title": model["title"],
            "description": model.get("description", ""),
            "panels": sum(len(row["panels"]) for row in layout(model)),
        }
        for uid, model in dashboards().items()
    ]
    return render(request, "monitoring/list.html", {"dashboards": items})


@staff_member_required
def dashboard_page(request: HttpRequest, uid: str) -> HttpResponse:
    model = dashboard_or_404(uid)
    rows = layout(model)
    chosen = request.GET.get("range", DEFAULT_RANGE)
    config = {
        "uid": uid,
        "dataUrl": reverse("dashboards:panel-data", args=[uid, 0]).removesuffix("0/"),
        "ranges": RANGES,
        "range": chosen if chosen in RANGES else DEFAULT_RANGE,
        "refreshSeconds": REFRESH_SECONDS,
        "panels": {panel["id"]: panel for row in rows for panel in row["panels"]},
    }
    context = {"dashboard": model, "rows": rows, "config": config}
    return render(request, "monitoring/dashboard.html", context)


@staff_data
def panel_data_view(request: HttpRequest, uid: str, panel_id: int) -> JsonResponse:
    """One panel's series for ?range=&step= (seconds); 400 naming a bad parameter, 404 for an
    unknown dashboard or panel, 502 when Prometheus is down or refuses the query."""
    model = dashboards().get(uid)
    panel = next(
        (p for p in (model or {}).get("panels", []) if p["id"] == panel_id and p["type"] != "row"),
        None,
    )
    if panel is None:
        return JsonResponse({"error": f"No panel {panel_id} on dashboard {uid!r}"}, status=404)
    try:
        range_seconds, step, end = _time_grid(request)
    except BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    try:
        data = panel_data(panel, range_seconds, step, end)
    except PrometheusUnavailable as exc:
        return JsonResponse({"error": str(exc)}, status=502)
    return JsonResponse({"panel": panel_id, "title": panel["title"], **data})

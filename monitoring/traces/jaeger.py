"""A client of Jaeger's query API: the JSON API Jaeger's own UI uses (/api/services,
/api/traces, /api/traces/<id>), at settings.JAEGER_QUERY_URL.

Every call waits at most JAEGER_QUERY_TIMEOUT seconds and turns every failure (no URL set,
Jaeger down or slow, an answer that is not its JSON) into `JaegerUnavailable`, whose message the
pages show: a slow or absent Jaeger costs one staff page a message, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from django.conf import settings

__all__ = ["JaegerUnavailable", "configured", "find_traces", "get_trace", "services"]


class JaegerUnavailable(RuntimeError):
    """Jaeger is not configured, did not answer in time, or answered with an error; the message
    says which, for the page."""


def configured() -> bool:
    """Whether a query URL is set (empty: no trace pages, the latency panels link nowhere)."""
    return bool(settings.JAEGER_QUERY_URL)


def _get(path: str, params: dict[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
    """The "data" of one GET; None for a 404 when `missing_ok` (a trace Jaeger does not hold)."""
    base = settings.JAEGER_QUERY_URL.rstrip("/")
    if not base:
        raise JaegerUnavailable(
            "Traces are off: JAEGER_QUERY_URL is not set (docs/tracing.md: starting Jaeger)."
        )
    try:
        response = requests.get(
            f"{base}{path}", params=params or {}, timeout=settings.JAEGER_QUERY_TIMEOUT
        )
    except requests.Timeout:
        raise JaegerUnavailable(
            f"Jaeger did not answer within {settings.JAEGER_QUERY_TIMEOUT:g} s ({base})."
        ) from None
    except requests.RequestException as exc:
        name = type(exc).__name__
        raise JaegerUnavailable(f"Jaeger is not reachable at {base}: {name}.") from None
    if response.status_code == 404 and missing_ok:
        return None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict):
        errors = body.get("errors") if isinstance(body, dict) else None
        detail = "; ".join(str(e.get("msg", e)) for e in errors or []) or response.reason
        raise JaegerUnavailable(f"Jaeger answered {response.status_code}: {detail}")
    return body.get("data")


def services() -> list[str]:
    """Every service Jaeger holds traces of, sorted."""
    return sorted(_get("/api/services") or [])


def find_traces(
    service: str,
    *,
    operation: str | None = None,
    tags: dict[str, str] | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    min_duration: str | None = None,
    limit: int = 20,
) -> list[dict]:
    """Traces with a span of `service` matching the rest (tags: every key equal to its value;
    start/end in epoch microseconds; min_duration as Jaeger writes it, e.g. "100ms"), as Jaeger's
    trace dicts (spans, processes)."""
    params: dict[str, Any] = {"service": service, "limit": limit}
    if operation:
        params["operation"] = operation
    if tags:
        params["tags"] = json.dumps(tags, separators=(",", ":"))
    if start_us is not None:
        params["start"] = start_us
    if end_us is not None:
        params["end"] = end_us
    if min_duration:
        params["minDuration"] = min_duration
    return list(_get("/api/traces", params) or [])


def get_trace(trace_id: str) -> dict | None:
    """One trace by its hex id, or None when Jaeger does not hold it (never sent, or evicted)."""
    data = _get(f"/api/traces/{trace_id}", missing_ok=True)
    return data[0] if data else None

"""What the trace pages make of Jaeger's traces: one line per trace for the search, one row per
span for the waterfall.

Jaeger's trace JSON: `spans` (traceID, spanID, operationName, references to the parent,
startTime and duration in microseconds, tags and logs as lists of {key, type, value}, processID)
and `processes` (processID -> serviceName). A span whose parent the trace lacks (not sent yet,
sampled out, or evicted) is drawn as a root rather than lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

TRACE_ID = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")


@dataclass
class SpanRow:
    """One span as the waterfall draws it: depth in the tree, bar offset and width in percent of
    the trace."""

    span_id: str
    parent_id: str | None
    service: str
    operation: str
    start_us: int
    offset_us: int
    duration_us: int
    depth: int
    offset_pct: float
    width_pct: float
    error: bool
    tags: list[tuple[str, str]]
    events: list[dict] = field(default_factory=list)
    # (key, value, URL of a search for the value or ""): the tags as the page lists them.
    attributes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def duration(self) -> str:
        return format_duration(self.duration_us)

    @property
    def offset(self) -> str:
        return format_duration(self.offset_us)


@dataclass
class TraceSummary:
    """One trace as the search lists it."""

    trace_id: str
    operation: str
    service: str
    services: list[tuple[str, int]]
    span_count: int
    start_us: int
    duration_us: int
    errors: int

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_us / 1e6, tz=UTC)

    @property
    def duration(self) -> str:
        return format_duration(self.duration_us)


def _value(tag: dict) -> str:
    value = tag.get("value")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(items: list[dict] | None) -> list[tuple[str, str]]:
    return [(str(t.get("key", "")), _value(t)) for t in items or []]


def _parent(span: dict) -> str | None:
    for ref in span.get("references") or []:
        if ref.get("refType") == "CHILD_OF":
            return ref.get("spanID")
    refs = span.get("references") or []
    return refs[0].get("spanID") if refs else None


def is_error(span: dict) -> bool:
    """Jaeger marks an OpenTelemetry span with status ERROR as `error=true` and
    `otel.status_code=ERROR`."""
    tags = dict(_tags(span.get("tags")))
    return tags.get("error") == "true" or tags.get("otel.status_code") == "ERROR"


def _service(trace: dict, span: dict) -> str:
    process = (trace.get("processes") or {}).get(span.get("processID"), {})
    return str(process.get("serviceName") or span.get("process", {}).get("serviceName") or "?")


def _bounds(spans: list[dict]) -> tuple[int, int]:
    start = min(int(s["startTime"]) for s in spans)
    end = max(int(s["startTime"]) + int(s.get("duration") or 0) for s in spans)
    return start, end


def _ordered(spans: list[dict]) -> list[tuple[dict, int]]:
    """Spans depth first, each after its parent, siblings by start time: (span, depth)."""
    by_id = {s["spanID"]: s for s in spans}
    children: dict[str | None, list[dict]] = {}
    for span in spans:
        parent = _parent(span)
        children.setdefault(parent if parent in by_id else None, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda s: (int(s["startTime"]), s.get("operationName", "")))
    ordered: list[tuple[dict, int]] = []
    seen: set[str] = set()
    stack = [(span, 0) for span in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        if span["spanID"] in seen:
            continue
        seen.add(span["spanID"])
        ordered.append((span, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(span["spanID"], [])))
    # A cycle of references (a corrupt trace) leaves spans unreached: draw them as roots.
    ordered.extend((span, 0) for span in spans if span["spanID"] not in seen)
    return ordered


def waterfall(trace: dict) -> list[SpanRow]:
    """Every span of `trace` in parent order, its bar placed by start and sized by duration
    relative to the whole trace."""
    spans = trace.get("spans") or []
    if not spans:
        return []
    start, end = _bounds(spans)
    total = max(end - start, 1)
    rows = []
    for span, depth in _ordered(spans):
        offset = (int(span["startTime"]) - start) / total * 100
        duration = int(span.get("duration") or 0)
        rows.append(
            SpanRow(
                span_id=span["spanID"],
                parent_id=_parent(span),
                service=_service(trace, span),
                operation=str(span.get("operationName", "")),
                start_us=int(span["startTime"]),
                offset_us=int(span["startTime"]) - start,
                duration_us=duration,
                depth=depth,
                offset_pct=round(offset, 3),
                width_pct=round(max(duration / total * 100, 0.2), 3),
                error=is_error(span),
                tags=_tags(span.get("tags")),
                events=[
                    {
                        "offset": format_duration(int(log.get("timestamp", start)) - start),
                        "fields": _tags(log.get("fields")),
                    }
                    for log in span.get("logs") or []
                ],
            )
        )
    return rows


def summarize(trace: dict) -> TraceSummary:
    """The search's line for one trace: its root span's operation and service, the services
    with their span counts, the span count, start and duration."""
    spans = trace.get("spans") or []
    start, end = _bounds(spans) if spans else (0, 0)
    ordered = _ordered(spans)
    root = ordered[0][0] if ordered else {}
    counts: dict[str, int] = {}
    for span in spans:
        service = _service(trace, span)
        counts[service] = counts.get(service, 0) + 1
    return TraceSummary(
        trace_id=str(trace.get("traceID", "")),
        operation=str(root.get("operationName", "")),
        service=_service(trace, root) if root else "",
        services=sorted(counts.items()),
        span_count=len(spans),
        start_us=start,
        duration_us=end - start,
        errors=sum(1 for span in spans if is_error(span)),
    )


def merge(traces: list[dict]) -> list[dict]:
    """Traces from several searches (one per service) as one list, each trace once.

    Jaeger answers a search with the whole of each trace it finds, so two searches that find
    the same trace return the same spans; the fuller copy (more spans: a late span arrived
    between the two) is kept."""
    by_id: dict[str, dict] = {}
    for trace in traces:
        trace_id = trace.get("traceID", "")
        if len(trace.get("spans") or []) >= len((by_id.get(trace_id) or {}).get("spans") or []):
            by_id[trace_id] = trace
    return list(by_id.values())


def format_duration(us: int) -> str:
    """A span's duration as people read it: µs, ms or s."""
    if us < 0:
        return "-" + format_duration(-us)
    if us < 1000:
        return f"{us} µs"
    if us < 1_000_000:
        return f"{us / 1000:.3g} ms" if us < 100_000 else f"{us / 1000:.0f} ms"
    return f"{us / 1e6:.3g} s"

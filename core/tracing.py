"""The app's own spans, through the OpenTelemetry API only (docs/tracing.md).

observability.tracing configures the SDK in each process when tracing is on; without it every
call here is the API's no-op (no span is recorded, `current_traceparent` is ""). This module
sits in the lowest layer so that the outbox, the delivery driver and the integrations can use it.

The outbox keeps the thread of a trace across processes and time: a row stores the W3C
`traceparent` of the span that wrote it (`current_traceparent`), and its delivery, by a task or
by the sweeper after an outage, starts its span as a child of that (`continued`), so one trace
runs from the request to the SMTP reply or the Centrifugo publish, retries included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER = trace.get_tracer("chatplatform")
# Rows keep the traceparent alone (no tracestate, no baggage): what continues a trace.
_W3C = TraceContextTextMapPropagator()

# The W3C traceparent header: version, trace id, parent span id, flags (55 characters).
TRACEPARENT_LENGTH = 55

Attributes = Mapping[str, str | int | float | bool]


def current_traceparent() -> str:
    """The current span as a W3C traceparent, or "" when there is none (tracing off)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent", "")


def parent_context(traceparent: str) -> Context | None:
    """The context a stored traceparent names; None for "" (written with tracing off)."""
    return _W3C.extract({"traceparent": traceparent}) if traceparent else None


def annotate(**attributes: str | int | None) -> None:
    """Set attributes on the current span (the request's), e.g. chat_id=5 -> `chat.id`="5", so
    a search by that id finds the trace. Ids go as strings: Jaeger's tag search compares text."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes_of(attributes))


def attributes_of(values: Mapping[str, str | int | None]) -> dict[str, str]:
    """Span attributes of app ids: chat_id=5 -> {"chat.id": "5"}; None values left out."""
    return {name.replace("_", "."): str(v) for name, v in values.items() if v is not None}


@contextmanager
def continued(
    traceparent: str,
    name: str,
    attributes: Attributes | None = None,
    *,
    waited_since: datetime | None = None,
) -> Iterator[Span]:
    """A span continuing the trace that `traceparent` names (an outbox row's writer), as the
    current span: under the span it runs in when that is of the same trace (the task the
    request queued), else under the writer's span, linked to the span it runs in (a task queued
    by the sweeper: each trace leads to the other). With `waited_since`, an "outbox wait" span
    under the writer's shows the time from then (the commit) to now (the claim) as a bar."""
    parent = parent_context(traceparent)
    here = trace.get_current_span().get_span_context()
    links = []
    if waited_since is not None and (parent is not None or here.is_valid):
        start = min(int(waited_since.timestamp() * 1e9), time.time_ns())
        TRACER.start_span(
            "outbox wait", context=parent, start_time=start, attributes=attributes
        ).end()
    if parent is not None and here.is_valid:
        if here.trace_id == trace.get_current_span(parent).get_span_context().trace_id:
            parent = None  # the task the request queued: nest under its span
        else:
            links = [Link(here)]
    with TRACER.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes, links=links
    ) as current:
        yield current


@contextmanager
def span(name: str, attributes: Attributes | None = None, kind: SpanKind = SpanKind.INTERNAL):
    """A child span of the current one (an SMTP conversation, a Centrifugo call)."""
    with TRACER.start_as_current_span(name, kind=kind, attributes=attributes) as current:
        yield current


def failed(current: Span, exc: BaseException) -> None:
    """Mark a span failed by an exception the code handles (a hand-over that the sweeper will
    make up for): the waterfall shows it as an error with the exception as its event."""
    if current.is_recording():
        current.record_exception(exc)
        current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

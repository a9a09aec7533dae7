"""What an outbox row keeps of its writer's trace.

The whole thread (request -> worker -> SMTP, the sweeper) is tests/test_tracing_e2e.py, on real
processes and a real Jaeger; these are the pieces it rests on, in this process, which never
installs the SDK globally (a span of a local provider is made current instead).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from core import tracing


def test_without_a_recorded_span_rows_keep_no_trace_context():
    assert tracing.current_traceparent() == ""
    assert tracing.parent_context("") is None


def test_a_traceparent_names_the_current_span_and_leads_back_to_it():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        stored = tracing.current_traceparent()
    context = span.get_span_context()
    assert stored.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert int(stored[-2:], 16) & 1  # sampled
    assert len(stored) == tracing.TRACEPARENT_LENGTH
    parent = trace.get_current_span(tracing.parent_context(stored)).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (
        context.trace_id,
        context.span_id,
        True,
    )


def test_an_unsampled_request_stores_its_decision_so_the_delivery_follows_it():
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("test")
    with tracer.start_as_current_span("request"):
        # Not recorded, but its context is valid: stored with flags 00, so a parent-based
        # sampler in the worker drops the delivery too (a trace is whole or absent).
        assert not int(tracing.current_traceparent()[-2:], 16) & 1


def test_ids_become_string_attributes_named_as_staff_search_them():
    assert tracing.attributes_of({"chat_id": 5, "message_id": None, "notification_event": "x"}) == {
        "chat.id": "5",
        "notification.event": "x",
    }

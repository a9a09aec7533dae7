"""When a process traces at all, and what it calls itself (observability.tracing)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

from observability import tracing as setup


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "TRUE "}, False),
    ],
)
def test_tracing_is_on_only_with_an_endpoint_and_not_disabled(monkeypatch, env, on):
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert setup.enabled() is on
    if not on:
        assert setup.configure("web") is False  # installs nothing


def test_each_process_says_what_it_is(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    assert setup.service_name("worker-email") == "chatplatform-worker-email"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "chat-eu")
    assert setup.service_name("web") == "chat-eu-web"


@pytest.fixture
def sampler_env(monkeypatch):
    def set_env(**values: str) -> None:
        for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_requests_are_sampled_at_a_tenth_by_default(sampler_env):
    sampler_env()
    assert setup.sampler_from_env().get_description() == (
        "ParentBased{root:TraceIdRatioBased{0.1},remoteParentSampled:AlwaysOnSampler,"
        "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
        "localParentNotSampled:AlwaysOffSampler}"
    )
    sampler_env(OTEL_TRACES_SAMPLER="parentbased_always_on")
    assert setup.sampler_from_env().get_description().startswith("ParentBased{root:AlwaysOn")
    sampler_env(OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.25")
    assert setup.sampler_from_env().get_description() == "TraceIdRatioBased{0.25}"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER"),
        ({"OTEL_TRACES_SAMPLER_ARG": "ten percent"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG"),
    ],
)
def test_a_sampler_setting_that_means_nothing_stops_the_start(sampler_env, env, named):
    sampler_env(**env)
    with pytest.raises(ImproperlyConfigured, match=named):
        setup.sampler_from_env()


def test_a_delivery_is_recorded_whatever_its_request_decided():
    tracer = TracerProvider(sampler=setup.DeliveriesAlways(ParentBased(ALWAYS_OFF))).get_tracer("t")
    with tracer.start_as_current_span("POST /api/chats/1/members/") as request:
        assert not request.is_recording()
        delivery = tracer.start_span("deliver notification", attributes={"outbox.model": "x"})
        other = tracer.start_span("SELECT")
    assert delivery.is_recording() and not other.is_recording()
    # In the request's trace id: a search by it, or by the row's ids, finds the delivery.
    assert delivery.get_span_context().trace_id == request.get_span_context().trace_id

"""When a process traces at all, and what it calls itself (observability.tracing)."""

from __future__ import annotations

import pytest

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

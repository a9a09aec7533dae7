"""Jaeger as make up, make prod and the tests run it (deploy/jaeger/config.yaml,
.tools/bin/jaeger): a span the OpenTelemetry SDK sends over OTLP/HTTP comes back from the query
API the app's trace pages read, and the store keeps no more than its bound.

Spans are sent by this process's own SDK (a TracerProvider of the test, not the global one), as
the platform's processes send theirs.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Tracer

from testing.services import JaegerProcess
from tests.support import DJANGO_SERVICES, container_file, lib_value

REPO = Path(__file__).resolve().parent.parent


def sdk_tracer(jaeger: JaegerProcess, service: str) -> tuple[TracerProvider, Tracer]:
    """A tracer of `service` exporting each span at once to `jaeger`, over OTLP/HTTP as the
    platform's processes do (the SDK posts to <endpoint>/v1/traces)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=f"{jaeger.otlp_endpoint}/v1/traces", timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("tests.test_jaeger")


@pytest.fixture
def small_jaeger() -> Iterator[JaegerProcess]:
    """A Jaeger of this test alone that keeps 3 traces."""
    proc = JaegerProcess(max_traces=3).start()
    yield proc
    proc.stop()


@pytest.mark.slow
def test_a_span_sent_over_otlp_comes_back_from_the_query_api(jaeger: JaegerProcess):
    service = f"jaeger-test-{uuid.uuid4().hex[:8]}"
    provider, tracer = sdk_tracer(jaeger, service)
    with tracer.start_as_current_span("deliver notification") as parent:
        parent.set_attribute("notification.id", "42")
        with tracer.start_as_current_span("smtp send") as child:
            child.set_attribute("smtp.reply_code", "250")
    provider.shutdown()
    trace_id = format(parent.get_span_context().trace_id, "032x")

    [found] = jaeger.wait_for_traces(service, {"notification.id": "42"})
    assert found["traceID"] == trace_id
    assert service in jaeger.services()
    # The tag of the child span finds the same trace; another value finds none.
    assert [t["traceID"] for t in jaeger.find_traces(service, {"smtp.reply_code": 250})] == [
        trace_id
    ]
    assert jaeger.find_traces(service, {"notification.id": "43"}) == []

    trace = jaeger.get_trace(trace_id)
    spans = {span["operationName"]: span for span in trace["spans"]}
    assert set(spans) == {"deliver notification", "smtp send"}
    smtp = spans["smtp send"]
    assert {"key": "smtp.reply_code", "type": "string", "value": "250"} in smtp["tags"]
    assert smtp["references"] == [
        {
            "refType": "CHILD_OF",
            "traceID": trace_id,
            "spanID": spans["deliver notification"]["spanID"],
        }
    ]
    assert trace["processes"][smtp["processID"]]["serviceName"] == service


@pytest.mark.slow
def test_the_store_keeps_the_newest_traces_up_to_its_bound(small_jaeger: JaegerProcess):
    service = f"jaeger-bound-{uuid.uuid4().hex[:8]}"
    provider, tracer = sdk_tracer(small_jaeger, service)
    trace_ids = []
    for number in range(5):
        with tracer.start_as_current_span("request") as span:
            span.set_attribute("message.id", str(number))
        trace_ids.append(format(span.get_span_context().trace_id, "032x"))
        # One at a time: traces of one batch are stored in no particular order.
        small_jaeger.wait_for_traces(service, {"message.id": str(number)})
    provider.shutdown()

    for gone in trace_ids[:2]:
        with pytest.raises(LookupError):
            small_jaeger.get_trace(gone)
    kept = [t["traceID"] for t in small_jaeger.find_traces(service, limit=10)]
    assert sorted(kept) == sorted(trace_ids[2:])
    assert small_jaeger.get_trace(trace_ids[-1])["traceID"] == trace_ids[-1]


def test_env_points_the_sdk_at_this_jaeger():
    """What a child process gets (not started: the addresses are fixed at construction)."""
    jaeger = JaegerProcess()
    assert jaeger.env() == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
        "JAEGER_QUERY_URL": jaeger.query_url,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", jaeger.otlp_endpoint)


def test_compose_runs_the_release_and_config_make_up_runs(project_dir: Path, services: dict):
    """docker-compose.yml's jaeger is the release setup.sh builds (lib.sh: JAEGER_VERSION is the
    Go module's tag, JAEGER_RELEASE the same release's v2 number), with the repository's config,
    listening on every address of its container; every Django service sends spans to its OTLP
    port and reads traces from its query port, unpublished."""
    jaeger = services["jaeger"]
    assert jaeger["image"] == f"jaegertracing/jaeger:{lib_value('JAEGER_RELEASE')}"
    path = jaeger["command"][jaeger["command"].index("--config") + 1]
    assert container_file(jaeger, project_dir, path) == REPO / "deploy" / "jaeger" / "config.yaml"
    assert jaeger["environment"]["JAEGER_LISTEN_HOST"] == "0.0.0.0"  # noqa: S104 - its network
    assert "ports" not in jaeger
    # The ports the config listens on when the environment does not say (what compose leaves).
    config = (REPO / "deploy" / "jaeger" / "config.yaml").read_text()
    assert "${env:JAEGER_OTLP_PORT:-4318}" in config
    assert "${env:JAEGER_QUERY_PORT:-16686}" in config
    assert not {"JAEGER_OTLP_PORT", "JAEGER_QUERY_PORT"} & set(jaeger["environment"])
    for name in DJANGO_SERVICES:
        env = services[name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", name
        assert env["JAEGER_QUERY_URL"] == "http://jaeger:16686", name
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in services["jupyter"].get("environment", {})


@pytest.mark.slow
def test_the_built_binary_is_the_pinned_release():
    """setup.sh stamps the release into the binary (`jaeger version`), which is how it knows
    the binary in .tools/bin is the pinned one."""
    out = subprocess.run(
        [str(REPO / ".tools" / "bin" / "jaeger"), "version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert f'"gitVersion":"v{lib_value("JAEGER_RELEASE")}"' in out

"""OpenTelemetry in each process: the SDK, its OTLP exporter and the instrumentations.

Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT, or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not true; make up, make prod and
compose point it at their Jaeger. Off, nothing is installed: no instrumentation, the API's no-op
spans (core.tracing), no cost. Everything else comes from the SDK's own OTEL_* variables
(docs/tracing.md): the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; the default here is
DEFAULT_SAMPLER), the batch processor's delay and queue (OTEL_BSP_*), resource attributes, and
OTEL_PYTHON_DISABLED_INSTRUMENTATIONS (e.g. "psycopg,redis": no span per query or command).

Each process configures itself once, after any fork (a batch processor's thread does not survive
one): the web process from chatplatform.wsgi (gunicorn workers load it after forking), each
Celery pool process on `worker_process_init`, beat on `beat_init` (chatplatform.celery). The
service name says which process a span comes from: chatplatform-web, chatplatform-worker-<group>,
chatplatform-beat (OTEL_SERVICE_NAME replaces the "chatplatform" prefix).
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

# Parent-based: a request without a sampled parent starts its trace at this ratio, and everything
# downstream (tasks, deliveries, SMTP) follows the request's decision, so a trace is whole or
# absent. All of them by default: a chat's requests are few and cheap to trace (the benchmark's
# overhead figures, docs/tracing.md), and the trace an operator needs is that of one email that
# came late, which a 10 % sample would miss nine times in ten. A busy site lowers it with
# OTEL_TRACES_SAMPLER=parentbased_traceidratio and OTEL_TRACES_SAMPLER_ARG=0.1.
DEFAULT_SAMPLER = "parentbased_always_on"
# Requests not worth a trace: Prometheus' scrapes, health checks, static files.
EXCLUDED_URLS = "metrics,healthz,livez,readyz,static/"

_configured_pid: int | None = None


def enabled() -> bool:
    """Whether this process should trace: an endpoint to send to, and the SDK not disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def service_name(role: str) -> str:
    """The service a process reports as: `chatplatform-web`, `chatplatform-worker-email`."""
    return f"{os.environ.get('OTEL_SERVICE_NAME') or 'chatplatform'}-{role}"


def configure(role: str) -> bool:
    """Install the SDK and the instrumentations in this process, once (a second call in the same
    process does nothing); returns whether tracing is on. Call before Django loads its
    middleware (the Django instrumentation adds one)."""
    global _configured_pid
    if _configured_pid == os.getpid():
        return True
    from django.conf import settings

    settings.DEBUG  # noqa: B018 - loads the settings, which put .env's OTEL_* in the environment
    if not enabled():
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    os.environ.setdefault("OTEL_TRACES_SAMPLER", DEFAULT_SAMPLER)
    resource = Resource.create(
        {
            "service.name": service_name(role),
            "service.namespace": "chatplatform",
            "service.instance.id": f"{os.uname().nodename}:{os.getpid()}",
        }
    )
    provider = TracerProvider(resource=resource)
    # Spans leave in batches from a thread of their own; a full queue drops spans rather than
    # slow a request, and an unreachable Jaeger costs the thread its retries, not the request.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    disabled = {
        name.strip()
        for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
    }
    instrumentors = {
        "django": (DjangoInstrumentor(), {"excluded_urls": EXCLUDED_URLS}),
        "celery": (CeleryInstrumentor(), {}),
        "psycopg": (PsycopgInstrumentor(), {}),
        "redis": (RedisInstrumentor(), {}),
        "requests": (RequestsInstrumentor(), {}),
    }
    for name, (instrumentor, options) in instrumentors.items():
        if name not in disabled and not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**options)
    _configured_pid = os.getpid()
    logger.info("tracing on: %s sends to %s", service_name(role), _endpoint())
    return True


def flush(timeout_millis: int = 5000) -> None:
    """Send what is queued now: a pool process about to exit would otherwise lose its last
    batch (it leaves without running atexit hooks)."""
    if _configured_pid != os.getpid():
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_millis)


def _endpoint() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT", ""
    )

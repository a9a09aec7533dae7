"""OpenTelemetry in each process: the SDK, its OTLP exporter and the instrumentations.

Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT, or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not true; make up, make prod and
compose point it at their Jaeger. Off, nothing is installed: no instrumentation, the API's no-op
spans (core.tracing), no cost. Everything else comes from the SDK's own OTEL_* variables
(docs/tracing.md): the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; the default here is
DEFAULT_SAMPLER at DEFAULT_SAMPLER_ARG, deliveries always: DeliveriesAlways), the batch
processor's delay and queue (OTEL_BSP_*), resource attributes, and
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
from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured
from opentelemetry.context import Context
from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

logger = logging.getLogger(__name__)

# Requests start a trace at a tenth (parent-based: everything a sampled request causes follows
# its decision, so its trace is whole), and every outbox delivery is recorded whatever its
# request's decision (`DeliveriesAlways`): the trace an operator needs most is that of one email
# that came late, its time in the outbox, attempts and SMTP reply, and those are always there;
# the request's own spans in one trace of ten. A tenth because tracing every request costs posting
# a message 13 % and adding a member 16 % at p50, a tenth 5-6 % (bench_tracing, docs/tracing.md).
# OTEL_TRACES_SAMPLER=parentbased_always_on traces every request (development, make up).
DEFAULT_SAMPLER, DEFAULT_SAMPLER_ARG = "parentbased_traceidratio", "0.1"
# The attribute that marks a delivery's spans (core.delivery: "deliver ...", "outbox wait").
DELIVERY_ATTRIBUTE = "outbox.model"
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

    resource = Resource.create(
        {
            "service.name": service_name(role),
            "service.namespace": "chatplatform",
            "service.instance.id": f"{os.uname().nodename}:{os.getpid()}",
        }
    )
    provider = TracerProvider(resource=resource, sampler=DeliveriesAlways(sampler_from_env()))
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


def sampler_from_env() -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER (and its _ARG) names, as the SDK reads it; by default
    DEFAULT_SAMPLER at DEFAULT_SAMPLER_ARG. An unknown name is refused at start."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower() or DEFAULT_SAMPLER
    fixed = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
    }
    if name in fixed:
        return fixed[name]
    if name not in ("traceidratio", "parentbased_traceidratio"):
        known = ", ".join([*fixed, "traceidratio", "parentbased_traceidratio"])
        raise ImproperlyConfigured(f"OTEL_TRACES_SAMPLER={name!r}: one of {known}")
    raw = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip() or (
        DEFAULT_SAMPLER_ARG if name == DEFAULT_SAMPLER else "1.0"
    )
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ImproperlyConfigured(f"OTEL_TRACES_SAMPLER_ARG={raw!r}: a ratio from 0 to 1")
    ratio_sampler = sampling.TraceIdRatioBased(ratio)
    return ratio_sampler if name == "traceidratio" else sampling.ParentBased(ratio_sampler)


class DeliveriesAlways(sampling.Sampler):
    """`requests` decides, except for an outbox delivery's spans (DELIVERY_ATTRIBUTE), which are
    always recorded: of a request that was not sampled, the delivery is recorded in the request's
    trace id (its parent's spans absent), so a search by its chat or notification id finds it."""

    def __init__(self, requests: sampling.Sampler) -> None:
        self.requests = requests

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        if attributes and DELIVERY_ATTRIBUTE in attributes:
            return sampling.SamplingResult(
                sampling.Decision.RECORD_AND_SAMPLE, attributes, trace_state
            )
        return self.requests.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"DeliveriesAlways{{{self.requests.get_description()}}}"

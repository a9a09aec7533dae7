"""GET /metrics: the statistics snapshot as Prometheus gauges, plus the request-latency histogram.

The business numbers are not computed at scrape time: `SnapshotCollector` reads the snapshot
beat stored in Redis (metrics.snapshot), so a scrape costs one Redis GET and every web process
answers the same. `StorageCollector` does the same with the storage measurement
(observability.storage: rows per table, the report folder's size, the retentions' oldest rows).
Which numbers are exported, under which name, HELP text and labels, is declared
on the snapshot's fields (metrics.contract); this module only walks that declaration. Labels are
low-cardinality only (window, rank, job, status; never a chat or user id), and the request
histogram's labels come from fixed sets (a client choosing `-X FOO1` gets `method="other"`).

With METRICS_BEARER_TOKEN set, a scrape must send `Authorization: Bearer <token>` (Prometheus'
`authorization` of its scrape job); empty leaves /metrics open, which settings allow only with
DEBUG on.

The latency histogram lives in each web process's memory. With one process (runserver, the
default `make up`) that is the whole picture. With several (gunicorn -w N) set
PROMETHEUS_MULTIPROC_DIR to an empty directory shared by the workers: prometheus_client then keeps
the histogram in files there and `/metrics` sums every worker's (its multiprocess mode).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from core.secrets import bearer_token, is_secret
from metrics import contract
from metrics.snapshot import current_snapshot

from . import storage
from .queues import QueueCollector

PREFIX = "chatplatform"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Label values a client cannot extend: every other method is "other", every status outside the
# standard ones (a view may return any integer) is "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset(str(status.value) for status in HTTPStatus)
OTHER = "other"

REGISTRY = CollectorRegistry()
REQUEST_DURATION = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from request to response in the web app, by method, URL route name and status.",
    ["method", "view", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def snapshot_metrics(snap: Mapping) -> list[Metric]:
    """The snapshot's declared numbers as metric families; a family whose numbers are all null
    or absent (an empty list, Centrifugo not answering) is exported without samples."""
    families: dict[str, Metric] = {}
    for family in contract.families():
        kind = CounterMetricFamily if family.counter else GaugeMetricFamily
        families[family.name] = kind(
            f"{PREFIX}_{family.name}", family.doc, labels=list(family.labels)
        )
    for serializer, data, labels in contract.objects(contract.DECLARED, snap, {}):
        for name, declared in serializer.fields.items():
            metric = getattr(declared, "metric", None)
            if metric is not None and data.get(name) is not None:
                values = {**labels, **metric.labels}
                families[metric.family.name].add_metric(
                    [values[label] for label in metric.family.labels], metric.value(data[name])
                )
    return list(families.values())


class SnapshotCollector:
    """Every business gauge, from the stored snapshot (nothing when there is none)."""

    def describe(self) -> list[Metric]:
        return []  # registering must not read Redis or the database

    def collect(self) -> Iterator[Metric]:
        snap = current_snapshot()
        if snap:
            yield from snapshot_metrics(snap)


def _age(iso: str, now: float) -> float:
    return max(0.0, now - datetime.fromisoformat(iso).timestamp())


def storage_metrics(measured: Mapping, now: float | None = None) -> list[Metric]:
    """The stored storage measurement (observability.storage) as metric families. Ages are taken
    at scrape time from the stored timestamps, so they keep growing when the measurement stops.
    Label values come from the fixed sets storage declares (its tables, its retentions), whatever
    the stored JSON holds."""
    now = time.time() if now is None else now
    measured_at = GaugeMetricFamily(
        f"{PREFIX}_storage_measured_timestamp_seconds",
        "Unix time of the last storage measurement (beat's measure-storage, every minute).",
    )
    measured_at.add_metric([], datetime.fromisoformat(measured["measured_at"]).timestamp())
    rows = GaugeMetricFamily(
        f"{PREFIX}_table_rows",
        "Estimated rows per large table, from PostgreSQL's statistics (never count(*)); "
        "absent on SQLite.",
        labels=["table"],
    )
    budgets = GaugeMetricFamily(
        f"{PREFIX}_table_rows_budget",
        "Rows a table may hold before it is past what the deployment was sized for "
        "(observability.storage.ROW_BUDGETS; TableRowsOverBudget).",
        labels=["table"],
    )
    counted = measured.get("table_rows") or {}
    for table, budget in storage.ROW_BUDGETS.items():
        if counted.get(table) is not None:
            rows.add_metric([table], counted[table])
            budgets.add_metric([table], budget)
    reports = GaugeMetricFamily(
        f"{PREFIX}_reports_bytes", "Bytes on disk of the report folders (REPORTS_DIR)."
    )
    if measured.get("reports_bytes") is not None:
        reports.add_metric([], measured["reports_bytes"])
    oldest = GaugeMetricFamily(
        f"{PREFIX}_retention_oldest_age_seconds",
        "Age of the oldest row a retention covers (finished outbox rows by status, refused "
        "attempts); absent when there is none.",
        labels=["table", "status"],
    )
    days = GaugeMetricFamily(
        f"{PREFIX}_retention_days",
        "Days that retention keeps those rows (RETENTION_*_DAYS, as the measuring worker has "
        "them).",
        labels=["table", "status"],
    )
    for retention in storage.RETENTIONS:
        labels = [retention.table, retention.status]
        at = (measured.get("oldest") or {}).get(retention.table, {}).get(retention.status)
        if at is not None:
            oldest.add_metric(labels, _age(at, now))
        kept = (measured.get("retention_days") or {}).get(retention.table, {}).get(retention.status)
        if kept is not None:
            days.add_metric(labels, kept)
    return [measured_at, rows, budgets, reports, oldest, days]


class StorageCollector:
    """Rows per table, the report folder's size, the retentions' oldest rows: one Redis GET of
    what beat measured (nothing when it never did, or Redis does not answer)."""

    def describe(self) -> list[Metric]:
        return []  # registering must not read Redis or the database

    def collect(self) -> Iterator[Metric]:
        measured = storage.load_storage()
        if measured:
            yield from storage_metrics(measured)


REGISTRY.register(SnapshotCollector())
REGISTRY.register(QueueCollector())
REGISTRY.register(StorageCollector())


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(SnapshotCollector())
    registry.register(QueueCollector())
    registry.register(StorageCollector())
    return registry


def _refusal(request: HttpRequest, token: str) -> HttpResponse | None:
    """401 without a bearer token, 403 with a wrong one (RFC 6750); None when it matches."""
    given = bearer_token(request.headers.get("Authorization", ""))
    if given is None:
        response = HttpResponse("Bearer token required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not is_secret(given, token):
        return HttpResponse("Wrong bearer token.\n", status=403, content_type="text/plain")
    return None


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition; behind METRICS_BEARER_TOKEN when it is set."""
    token = settings.METRICS_BEARER_TOKEN
    refusal = _refusal(request, token) if token else None
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def request_labels(request: HttpRequest, response: HttpResponse) -> tuple[str, str, str]:
    """(method, view, status) from fixed sets: the route's name, never the path; a method or
    status outside the known ones is "other", so no client can add series."""
    method = request.method if request.method in KNOWN_METHODS else OTHER
    match = getattr(request, "resolver_match", None)
    view = (match.view_name or "unnamed") if match else "unmatched"
    status = str(response.status_code)
    return method, view, status if status in KNOWN_STATUSES else OTHER


class RequestLatencyMiddleware:
    """Observe every request's duration under its route name (never the raw path)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        REQUEST_DURATION.labels(*request_labels(request, response)).observe(
            time.perf_counter() - started
        )
        return response

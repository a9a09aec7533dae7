"""GET /metrics: the statistics snapshot as Prometheus gauges, plus the request-latency histogram.

The business numbers are not computed at scrape time: `SnapshotCollector` reads the snapshot
beat stored in Redis (metrics.snapshot), so a scrape costs one Redis GET and every web process
answers the same. Labels are low-cardinality only (window, rank, job, status; never a chat or user
id).

The latency histogram lives in each web process's memory. With one process (runserver, the
default `make up`) that is the whole picture. With several (gunicorn -w N) set
PROMETHEUS_MULTIPROC_DIR to an empty directory shared by the workers: prometheus_client then keeps
the histogram in files there and `/metrics` sums every worker's (its multiprocess mode).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from .queues import QueueCollector
from .snapshot import current_snapshot

PREFIX = "chatplatform"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REGISTRY = CollectorRegistry()
REQUEST_DURATION = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from request to response in the web app, by method, URL route name and status.",
    ["method", "view", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def _gauge(name: str, doc: str, value: object, labels: dict[str, str] | None = None) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels or {}))
    if value is not None:
        family.add_metric(list((labels or {}).values()), float(value))
    return family


def _by_status(name: str, doc: str, counts: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["status"])
    for status, count in counts.items():
        family.add_metric([status], float(count))
    return family


class SnapshotCollector:
    """Every business gauge, from the stored snapshot (nothing when there is none)."""

    def describe(self) -> list[Metric]:
        return []  # registering must not read Redis or the database

    def collect(self) -> Iterator[Metric]:
        snap = current_snapshot()
        if not snap:
            return
        yield _gauge("users", "Registered users.", snap["users"])
        yield _gauge("chats", "Chats that exist.", snap["chats"])
        messages = CounterMetricFamily(
            f"{PREFIX}_messages", "Messages ever sent (deleted ones included)."
        )
        messages.add_metric([], float(snap["messages_total"]))
        yield messages
        yield _gauge(
            "messages_last_hour",
            "Messages sent in the last 60 minutes.",
            snap["messages_last_hour"],
        )
        active = GaugeMetricFamily(
            f"{PREFIX}_active_users",
            "Users who sent a message in the window (UTC days, today included).",
            labels=["window"],
        )
        for window in ("1d", "7d", "30d"):
            active.add_metric([window], float(snap[f"active_users_{window}"]))
        yield active
        yield _gauge(
            "new_users_last_day",
            "Accounts created in the last 24 hours.",
            snap["new_users_last_day"],
        )
        if snap.get("online_users") is not None:
            yield _gauge("online_users", "Users connected to Centrifugo now.", snap["online_users"])
        top = GaugeMetricFamily(
            f"{PREFIX}_top_chat_messages_last_day",
            "Messages in the last 24 hours of the busiest chats, by rank (1 = busiest).",
            labels=["rank"],
        )
        for rank, chat in enumerate(snap["top_chats"], start=1):
            top.add_metric([str(rank)], float(chat["messages"]))
        yield top
        last_success = GaugeMetricFamily(
            f"{PREFIX}_stats_job_last_success_timestamp_seconds",
            "Unix time of the statistics job's last successful run.",
            labels=["stats_job"],
        )
        duration = GaugeMetricFamily(
            f"{PREFIX}_stats_job_duration_seconds",
            "Duration of the statistics job's last successful run.",
            labels=["stats_job"],
        )
        for job, run in sorted(snap.get("jobs", {}).items()):
            if run.get("last_success_timestamp") is not None:
                last_success.add_metric([job], run["last_success_timestamp"])
            if run.get("last_duration_seconds") is not None:
                duration.add_metric([job], run["last_duration_seconds"])
        yield last_success
        yield duration
        yield _by_status(
            "notifications",
            "Admin emails by delivery state (pending includes those being sent).",
            {status: snap[f"notifications_{status}"] for status in ("pending", "sent", "failed")},
        )
        publications = snap.get("publications", {})
        yield _by_status(
            "publications",
            "Live events for Centrifugo by delivery state (pending includes those being sent).",
            {
                "pending": snap["publications_pending"],
                "sent": publications.get("sent", 0),
                "failed": publications.get("failed", 0),
            },
        )
        yield _gauge(
            "tasks_failed_last_hour",
            "Celery tasks that failed in the last 60 minutes (all workers).",
            snap["tasks_failed_last_hour"],
        )
        generated = datetime.fromisoformat(snap["generated_at"]).timestamp()
        yield _gauge(
            "snapshot_age_seconds",
            "Seconds since beat computed the statistics snapshot.",
            max(0.0, time.time() - generated),
        )


REGISTRY.register(SnapshotCollector())
REGISTRY.register(QueueCollector())


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(SnapshotCollector())
    registry.register(QueueCollector())
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition; no login (restrict it at the network, see docs)."""
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


class RequestLatencyMiddleware:
    """Observe every request's duration under its route name (never the raw path)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match else "unmatched"
        REQUEST_DURATION.labels(request.method, view, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

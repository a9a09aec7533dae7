"""What the workers and beat record so that Prometheus sees the wait, not only the work.

- Every task message is stamped with its send time (`sent_at` header) when it is published, by
  whichever process sends it (web, beat, a worker retrying), since Celery messages carry none.
- A worker records, as each task starts, how long it waited in its queue: from its send time, or
  from its ETA when it had one (countdown, retry backoff), to the start. The histogram lives in
  the prefork children, so it uses prometheus-client's multiprocess mode (the directory is set by
  `launchers.workers`) and the worker's main process serves it on its metrics port.
- A worker's main process writes a heartbeat into Redis every HEARTBEAT_SECONDS from a timer of
  its event loop (not Celery's event heartbeat, which `celery control disable_events` would stop),
  with its group and queues; a worker killed with SIGKILL, or whose loop is stuck, stops writing.
- Beat records when it starts and when it sends each schedule entry's task
  (`RecordingScheduler`), so an entry is overdue two periods after its last run, or after beat's
  start if it has not run since.

The app's /metrics reads the Redis side (observability.queues); labels are queue, group, worker and
schedule entry names, all bounded by the declarations in settings (and the live workers).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from datetime import datetime
from typing import Any

import redis
from celery.beat import PersistentScheduler
from django.conf import settings
from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from core import redis_client

logger = logging.getLogger(__name__)

SENT_AT_HEADER = "sent_at"
HEARTBEATS_KEY = "chatplatform:worker-heartbeats"  # hash: worker hostname -> JSON
BEAT_RUNS_KEY = "chatplatform:beat-last-run"  # hash: schedule entry name -> unix time
BEAT_STARTED_KEY = "chatplatform:beat-started"  # unix time the running beat started
HEARTBEAT_SECONDS = 2.0
WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

# Not registered anywhere: in a worker (multiprocess mode) each child writes it to its files and
# the main process serves them all; elsewhere (an eager test) it only counts in memory.
QUEUE_WAIT = Histogram(
    "chatplatform_task_queue_wait_seconds",
    "Time a task waited in its queue: from its send time (or its ETA, for a countdown or a retry's "
    "backoff) to a worker starting it.",
    ["queue"],
    buckets=WAIT_BUCKETS,
    registry=None,
)


def broker() -> redis.Redis:
    """The broker's Redis (looked up each call: tests point it at their server), with short
    timeouts: these records must never hold up a task or a scrape."""
    return redis_client.client(settings.CELERY_BROKER_URL)


# --- every process that sends tasks -------------------------------------------------------------


def stamp_sent_at(headers: dict | None = None, **kwargs: Any) -> None:
    """before_task_publish: the send time, overwritten on a retry (a new message, sent now)."""
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()


def due_time(sent_at: float | None, eta: str | datetime | None) -> float | None:
    """When a task became ready to run: its ETA if it had one, else its send time."""
    if eta:
        eta_at = eta if isinstance(eta, datetime) else datetime.fromisoformat(eta)
        return eta_at.timestamp()
    return sent_at


# --- worker children ----------------------------------------------------------------------------


def observe_queue_wait(task: Any = None, **kwargs: Any) -> None:
    """task_prerun: how long this task waited, under its queue's name."""
    request = getattr(task, "request", None)
    if request is None or request.is_eager:
        return
    due = due_time(getattr(request, SENT_AT_HEADER, None), request.eta)
    if due is None:  # sent by a producer without the stamp (an older release)
        return
    queue = (request.delivery_info or {}).get("routing_key") or "unknown"
    if queue not in settings.QUEUE_WAIT_BUDGETS:
        queue = "other"  # bounded labels, whatever a sender chose
    QUEUE_WAIT.labels(queue).observe(max(0.0, time.time() - due))


# --- worker main process ------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    """worker_ready (sender: the consumer): remember who this worker is, beat on the consumer's
    own timer, serve its metrics."""
    queues = sorted(sender.app.amqp.queues.consume_from)
    _worker.update(
        hostname=sender.hostname, group=os.environ.get("WORKER_GROUP", "all"), queues=queues
    )
    write_heartbeat()
    sender.timer.call_repeatedly(HEARTBEAT_SECONDS, write_heartbeat)
    port = int(os.environ.get("WORKER_METRICS_PORT_ACTIVE") or 0)
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if port and multiproc:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiproc)
        address = os.environ.get("WORKER_METRICS_ADDRESS", "127.0.0.1")
        start_http_server(port, addr=address, registry=registry)
        logger.info("worker metrics on port %s", port)


def write_heartbeat() -> None:
    """This worker is alive and its event loop turns (every HEARTBEAT_SECONDS)."""
    if not _worker:
        return
    record = {"group": _worker["group"], "queues": _worker["queues"], "at": time.time()}
    try:
        broker().hset(HEARTBEATS_KEY, _worker["hostname"], json.dumps(record))
    except redis.RedisError as exc:
        logger.warning("could not write the worker heartbeat: %s", exc)


def on_worker_shutdown(**kwargs: Any) -> None:
    """worker_shutdown: a worker stopped on purpose leaves no stale heartbeat behind."""
    if _worker:
        with contextlib.suppress(redis.RedisError):
            broker().hdel(HEARTBEATS_KEY, _worker["hostname"])
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc and os.environ.get("WORKER_GROUP"):  # made by launchers.workers for us
        shutil.rmtree(multiproc, ignore_errors=True)


def forget_heartbeats(hostnames: list[str]) -> None:
    """Drop heartbeats too old to matter, so the set of worker labels stays bounded."""
    if hostnames:
        broker().hdel(HEARTBEATS_KEY, *hostnames)


# --- beat ---------------------------------------------------------------------------------------


def record_beat_run(entry: str) -> None:
    try:
        broker().hset(BEAT_RUNS_KEY, entry, time.time())
    except redis.RedisError as exc:
        logger.warning("could not record beat's run of %s: %s", entry, exc)


class RecordingScheduler(PersistentScheduler):
    """Celery's file-backed scheduler that also records when it started and when it sends each
    entry's task, so a stopped or stuck beat shows as overdue entries
    (settings.CELERY_BEAT_SCHEDULER). Only real sends count as runs: Celery gives a new entry a
    last run of "now", which would hide an entry that never ran."""

    def setup_schedule(self) -> None:
        super().setup_schedule()
        try:
            broker().set(BEAT_STARTED_KEY, time.time())
        except redis.RedisError as exc:
            logger.warning("could not record beat's start: %s", exc)

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any):
        result = super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        record_beat_run(entry.name)  # only once the task was handed over
        return result

"""Queue health read straight from the broker at scrape time, for /metrics.

Celery on Redis keeps each queue as a list (plus one list per priority step, `<queue>\\x06\\x16<n>`)
and every task a worker has taken but not acknowledged (reserved ahead, or running an acks_late
task, or holding an ETA/retry countdown) in the `unacked` hash. Worker events alone cannot see the
first; Flower's queue length misses the second. Here both count, per declared queue:

- `ready`: messages in the lists, waiting for any worker;
- `reserved`: messages a worker holds without having acknowledged them;
- the oldest ready message's age, from its `sent_at` stamp (or its ETA), which is what an
  operator means by "how long has work been waiting".

Worker heartbeats and beat entries (observability.celery_watch) are read here too. A handful of
Redis commands per scrape; nothing touches the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import GaugeMetricFamily, Metric

from . import celery_watch

PREFIX = "chatplatform"
UNACKED_KEY = Channel.unacked_key


@dataclass
class QueueState:
    ready: int = 0
    reserved: int = 0
    oldest_due: float | None = None  # unix time the oldest ready message became due

    def oldest_age(self, now: float) -> float:
        return max(0.0, now - self.oldest_due) if self.oldest_due is not None else 0.0


@dataclass
class BrokerState:
    queues: dict[str, QueueState] = field(default_factory=dict)
    heartbeats: dict[str, dict] = field(default_factory=dict)
    beat_runs: dict[str, float] = field(default_factory=dict)
    beat_started: float | None = None


def priority_keys(queue: str) -> list[str]:
    """The Redis lists of one queue: the queue itself and one per priority step."""
    return [queue] + [f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS if step]


def _due(raw: bytes | str | None) -> float | None:
    """When a raw kombu message (JSON) of a queue's list became due, from the headers Celery
    and we set."""
    if not raw:
        return None
    try:
        headers = json.loads(raw).get("headers") or {}
        return celery_watch.due_time(headers.get(celery_watch.SENT_AT_HEADER), headers.get("eta"))
    except (ValueError, TypeError, AttributeError, KeyError):
        return None


def read_broker() -> BrokerState:
    """One pipeline: list lengths, the oldest message of each list, the unacked hash."""
    queues = list(settings.QUEUE_WAIT_BUDGETS)
    client = celery_watch.broker()
    pipe = client.pipeline(transaction=False)
    keys = {queue: priority_keys(queue) for queue in queues}
    for queue in queues:
        for key in keys[queue]:
            pipe.llen(key)
            pipe.lindex(key, -1)  # kombu LPUSHes and BRPOPs: the oldest is at the right end
    pipe.hvals(UNACKED_KEY)
    pipe.hgetall(celery_watch.HEARTBEATS_KEY)
    pipe.hgetall(celery_watch.BEAT_RUNS_KEY)
    pipe.get(celery_watch.BEAT_STARTED_KEY)
    answers = iter(pipe.execute())
    state = BrokerState(queues={queue: QueueState() for queue in queues})
    for queue in queues:
        for _key in keys[queue]:
            length, oldest = next(answers), next(answers)
            q = state.queues[queue]
            q.ready += length
            due = _due(oldest)
            if due is not None and (q.oldest_due is None or due < q.oldest_due):
                q.oldest_due = due
    for raw in next(answers):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in state.queues:
            state.queues[routing_key].reserved += 1
    state.heartbeats = {k.decode(): json.loads(v) for k, v in next(answers).items()}
    state.beat_runs = {k.decode(): float(v) for k, v in next(answers).items()}
    started = next(answers)
    state.beat_started = float(started) if started else None
    return state


def beat_intervals() -> dict[str, float]:
    """Each declared schedule entry's period in seconds (timedelta schedules)."""
    intervals = {}
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        schedule = entry["schedule"]
        seconds = getattr(schedule, "total_seconds", None) or getattr(
            getattr(schedule, "run_every", None), "total_seconds", None
        )
        if seconds:
            intervals[name] = seconds()
    return intervals


def _family(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def collect(state: BrokerState, now: float | None = None) -> Iterator[Metric]:
    """The gauges of one broker reading (pure: tests feed it states)."""
    now = now or time.time()
    tasks = _family(
        "queue_tasks",
        "Tasks in a Celery queue: ready (waiting for any worker) or reserved (taken by a worker, "
        "not yet acknowledged: prefetched, running an acks_late task, or holding an ETA).",
        ["queue", "state"],
    )
    oldest = _family(
        "queue_oldest_task_age_seconds",
        "Age of the oldest ready task of the queue, from its send time or ETA (0 when empty).",
        ["queue"],
    )
    budget = _family(
        "queue_wait_budget_seconds",
        "How long a task of the queue may wait before CeleryQueueWaitHigh (settings).",
        ["queue"],
    )
    for queue, q in state.queues.items():
        tasks.add_metric([queue, "ready"], q.ready)
        tasks.add_metric([queue, "reserved"], q.reserved)
        oldest.add_metric([queue], q.oldest_age(now))
        budget.add_metric([queue], settings.QUEUE_WAIT_BUDGETS.get(queue, 0))
    yield from (tasks, oldest, budget)

    stale_after = settings.WORKER_HEARTBEAT_STALE_SECONDS
    threshold = _family(
        "worker_heartbeat_stale_seconds",
        "Heartbeat age past which a worker counts as gone (WORKER_HEARTBEAT_STALE_SECONDS).",
        [],
    )
    threshold.add_metric([], stale_after)
    yield threshold
    age = _family(
        "worker_heartbeat_age_seconds",
        "Seconds since the worker's last heartbeat (every 2 s while it lives).",
        ["worker", "group"],
    )
    serving = {queue: 0 for queue in state.queues}
    for worker, beat in sorted(state.heartbeats.items()):
        seconds = max(0.0, now - beat["at"])
        age.add_metric([worker, beat.get("group", "all")], seconds)
        if seconds <= stale_after:
            for queue in beat.get("queues", []):
                if queue in serving:
                    serving[queue] += 1
    workers = _family(
        "queue_workers",
        "Workers with a fresh heartbeat that consume the queue.",
        ["queue"],
    )
    for queue, count in serving.items():
        workers.add_metric([queue], count)
    yield from (age, workers)

    intervals = beat_intervals()
    last_run = _family(
        "beat_entry_last_run_timestamp_seconds",
        "Unix time beat last sent the schedule entry's task.",
        ["entry"],
    )
    period = _family("beat_entry_interval_seconds", "The schedule entry's period.", ["entry"])
    overdue = _family(
        "beat_entry_overdue",
        "1 when two periods plus BEAT_OVERDUE_GRACE_SECONDS have passed since the entry last ran "
        "(or, if it has not run since, since beat started; or beat never started): beat is "
        "stopped or stuck.",
        ["entry"],
    )
    for entry, seconds in sorted(intervals.items()):
        ran = state.beat_runs.get(entry)
        period.add_metric([entry], seconds)
        if ran is not None:
            last_run.add_metric([entry], ran)
        since = max(filter(None, (ran, state.beat_started)), default=None)
        late = since is None or now - since > 2 * seconds + settings.BEAT_OVERDUE_GRACE_SECONDS
        overdue.add_metric([entry], 1.0 if late else 0.0)
    yield from (last_run, period, overdue)


def forget_old_workers(state: BrokerState, now: float | None = None) -> None:
    """Heartbeats an hour old belong to workers long gone (replaced containers): drop them."""
    now = now or time.time()
    celery_watch.forget_heartbeats(
        [name for name, beat in state.heartbeats.items() if now - beat["at"] > 3600]
    )


class QueueCollector:
    """/metrics: queue depth and age, worker heartbeats, beat entries, from the broker."""

    def describe(self) -> list[Metric]:
        return []  # registering must not touch Redis

    def collect(self) -> Iterator[Metric]:
        import redis

        try:
            state = read_broker()
            forget_old_workers(state)
        except redis.RedisError:
            return  # the broker is down: the web job's other metrics still answer
        yield from collect(state)

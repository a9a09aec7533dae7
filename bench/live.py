"""What the live-delivery benchmarks share: Redis and Centrifugo, a chat, WebSocket subscribers
in another process, paced senders, and one way to turn sends and arrivals into latencies."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from bench.common import bench_database, percentile


class LiveServices(NamedTuple):
    """What a live benchmark runs on: a work directory, Redis and Centrifugo."""

    workdir: Path
    redis: Any
    hub: Any


@contextlib.contextmanager
def live_services(database_url: str, prefix: str) -> Iterator[LiveServices]:
    """A work directory, a fresh database (see bench_database), Redis and Centrifugo on free
    ports, and the environment that points Django and its workers at them: set before
    setup_django(), since settings read it once. On the way out everything goes, the database
    too (stop the workers first: enter this before them)."""
    with contextlib.ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        url, drop_database = bench_database(database_url, workdir, prefix.replace("-", "_"))
        cleanup.callback(drop_database)
        os.environ.update(DATABASE_URL=url, LOG_LEVEL="WARNING")
        # The posting threads keep their connection, as a pooled web server would; the workers
        # keep theirs anyway (WORKER_DATABASE_CONN_MAX_AGE).
        os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
        import testing

        redis = cleanup.enter_context(testing.RedisProcess())
        hub = cleanup.enter_context(testing.CentrifugoProcess())
        os.environ.update(REDIS_URL=redis.url, CELERY_BROKER_URL=redis.url, **hub.django_env)
        yield LiveServices(workdir, redis, hub)


def chat_with_members(members: int, prefix: str = "bench") -> tuple[Any, Any, list]:
    """An owner's chat with `members` plain members, written with bulk_create: members are not
    admins, so nobody is emailed, and 100 joins through the service would only slow the setup.
    Returns (owner, chat, members)."""
    from django.contrib.auth import get_user_model

    from chats import services
    from chats.models import Membership, Role

    User = get_user_model()
    owner = User.objects.create(username=f"{prefix}-owner", email=f"{prefix}-owner@example.com")
    chat = services.create_chat(title=prefix, creator_id=owner.pk)
    users = User.objects.bulk_create(
        User(username=f"{prefix}{n}", email=f"{prefix}{n}@example.com") for n in range(members)
    )
    Membership.objects.bulk_create(
        Membership(chat=chat, user=user, role=Role.MEMBER) for user in users
    )
    return owner, chat, users


class Sent(NamedTuple):
    """One message sent: its key (seq or message id), when the call started and returned."""

    key: int
    started: float
    returned: float


class Pacer:
    """Runs calls at a steady rate from a fixed set of threads, kept across phases (each keeps
    its API client and database connection, as a web worker does). A late step starts at once,
    so no burst beyond the threads; no step starts after count/rate seconds, so a phase the
    system cannot keep up with still ends on time, having sent fewer."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads)

    def run(self, call: Callable[[int], Sent], rate: float, count: int) -> list[Sent]:
        start = time.monotonic() + 0.01
        end = start + count / rate
        lock = threading.Lock()
        slots = iter(range(count))
        done: list[Sent] = []

        def loop() -> None:
            while True:
                with lock:
                    i = next(slots, None)
                if i is None:
                    return
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif time.monotonic() >= end:
                    return
                done.append(call(i))

        for future in [self.pool.submit(loop) for _ in range(self.threads)]:
            future.result()
        return done

    def close(self) -> None:
        """Close each thread's database connection (kept open across phases, it would outlive
        the benchmark and keep its database from being dropped), then the threads."""
        barrier = threading.Barrier(self.threads)

        def close_connections() -> None:
            barrier.wait(timeout=30)  # all threads at once: each runs exactly one of these
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()

        for future in [self.pool.submit(close_connections) for _ in range(self.threads)]:
            future.result()
        self.pool.shutdown()

    def __enter__(self) -> Pacer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def api_poster(author: Any, chat_id: int) -> Callable[[int], Sent]:
    """POST /api/chats/<id>/messages/ as `author` through the in-process DRF client (one per
    thread, real database), timed from the start of the request: on the after-commit path the
    message can reach subscribers before the response does."""
    from rest_framework.test import APIClient

    url = f"/api/chats/{chat_id}/messages/"
    local = threading.local()

    def post(seq: int) -> Sent:
        if not hasattr(local, "api"):
            local.api = APIClient()
            local.api.force_authenticate(author)
        started = time.monotonic()
        response = local.api.post(url, {"text": f"bench message {seq}"}, format="json")
        returned = time.monotonic()
        assert response.status_code == 201, response.content[:300]
        return Sent(response.json()["id"], started, returned)

    return post


def summarize(
    name: str,
    sent: list[Sent],
    arrivals: list[tuple[str, int, float]],
    label: str,
    subscribers: int,
    offered: int | None = None,
    censor_at: float | None = None,
) -> dict:
    """Latency from the start of each call to each arrival (p50/p90/p99/max), the calls' own
    latency, and the deliveries as a share of what was offered (`offered` messages, default
    the ones sent) to every subscriber. With `censor_at` (a monotonic time), a delivery that
    had not arrived by then counts as arriving then, so the percentiles are lower bounds."""
    started = {s.key: s.started for s in sent}
    latencies = [
        (t - started[key]) * 1000 for lab, key, t in arrivals if lab == label and key in started
    ]
    arrived = len(latencies)
    expected = len(sent) * subscribers
    if censor_at is not None:
        per_key = Counter(key for lab, key, _ in arrivals if lab == label and key in started)
        for s in sent:
            latencies += [(censor_at - s.started) * 1000] * max(0, subscribers - per_key[s.key])
    calls = [(s.returned - s.started) * 1000 for s in sent]
    return {
        "phase": name,
        "messages": len(sent),
        "deliveries": arrived,
        "expected_deliveries": expected,
        "lost": expected - arrived,
        "delivered_pct": 100 * arrived / max(1, (offered or len(sent)) * subscribers),
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
        "lower_bounds": censor_at is not None and arrived < expected,
        "call_p50_ms": percentile(calls, 50),
        "call_p99_ms": percentile(calls, 99),
    }


def wait_for_outbox(timeout: float = 30) -> bool:
    """Until every live publication is sent (the worker path's tasks are done); False if not."""
    from chats.models import Publication
    from core.outbox import OutboxStatus

    deadline = time.monotonic() + timeout
    while Publication.objects.exclude(status=OutboxStatus.SENT).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True

"""What every benchmark needs: the shared flags, a throwaway database to measure on, Django set
up on it, percentiles, and one way to write results (so runs can be compared file by file);
and what the live-delivery benchmarks share: Redis and Centrifugo, a chat, WebSocket subscribers
in another process, paced senders, and one way to turn sends and arrivals into latencies."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


def add_common_args(
    parser: argparse.ArgumentParser,
    database_help: str = "PostgreSQL server to create a throwaway database on "
    "(default: SQLite in a temporary directory)",
) -> None:
    """--database-url (scripts/bench.sh passes its PostgreSQL) and --results, on every bench."""
    parser.add_argument("--database-url", default="", help=database_help)
    parser.add_argument(
        "--results", default=str(RESULTS_DIR), help="folder for the JSON results (bench/results)"
    )


def write_results(folder: str | Path, name: str, results: dict) -> Path:
    """Write `results` to <folder>/<name>-<UTC time>.json, a new file a run, and say where."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def setup_django() -> None:
    """django.setup() on the fresh database of DATABASE_URL, then migrate it. The in-process
    test clients (DRF's APIClient, django.test.Client) send Host: testserver, so allow it."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values (a phase that received nothing)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def fresh_postgres(url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database next to the one in `url`; return its URL and a dropper."""
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    parts = urlsplit(url)
    admin_dsn = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def bench_database(url: str, workdir: Path, prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database: a new one on the PostgreSQL server of `url`, else SQLite in `workdir`."""
    if url.startswith("postgres"):
        return fresh_postgres(url, prefix)
    return url or f"sqlite:///{workdir / 'db.sqlite3'}", lambda: None


# --- live delivery: services, a chat, subscribers in another process, paced senders -------------


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
        os.environ.update(
            REDIS_URL=redis.url,
            CELERY_BROKER_URL=redis.url,
            CENTRIFUGO_API_URL=hub.api_url,
            CENTRIFUGO_WS_URL=hub.ws_url,
            CENTRIFUGO_HTTP_API_KEY=hub.api_key,
            CENTRIFUGO_TOKEN_HMAC_SECRET_KEY=hub.token_secret,
        )
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


def subscriber_specs(users: list, channels: list[tuple[str, str]]) -> list[dict]:
    """What the Listener needs per user: a connection token and, per (label, channel), a
    subscription token (signed here: the benchmark is not testing the access rule)."""
    from integrations import centrifugo

    return [
        {
            "token": centrifugo.connection_token(user.pk, ttl=3600),
            "subscriptions": [
                (label, channel, centrifugo.subscription_token(user.pk, channel, 3600))
                for label, channel in channels
            ],
        }
        for user in users
    ]


def _listener_main(ws_url: str, clients: list[dict], conn: Connection) -> None:
    asyncio.run(_listen(ws_url, clients, conn))


async def _listen(ws_url: str, clients: list[dict], conn: Connection) -> None:
    """Connect every client, say "ready", then answer the parent's commands: "count", "collect"
    (hand over the arrivals so far and forget them), "stop"."""
    from centrifuge import Client, PublicationContext, SubscriptionEventHandler

    arrivals: list[tuple[str, int, float]] = []  # (label, key, monotonic time)

    class Events(SubscriptionEventHandler):
        def __init__(self, label: str) -> None:
            self.label = label

        async def on_publication(self, ctx: PublicationContext) -> None:
            now = time.monotonic()
            data = ctx.pub.data
            key = data["seq"] if "seq" in data else data["message"]["id"]
            arrivals.append((self.label, key, now))

    live = []
    for spec in clients:
        client = Client(ws_url, token=spec["token"], proxy=None, timeout=20)
        await client.connect()
        for label, channel, token in spec["subscriptions"]:
            sub = client.new_subscription(channel, events=Events(label), token=token)
            await sub.subscribe()
            live.append(sub)
        live.append(client)
    for item in live:
        await item.ready(timeout=30)
    conn.send("ready")
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "count":
            conn.send(len(arrivals))
            continue
        batch = arrivals.copy()  # no await between these lines: no arrival slips in between
        arrivals.clear()
        conn.send(batch)
        if command == "stop":
            break
    for item in live:
        if hasattr(item, "disconnect"):
            await item.disconnect()


class Listener:
    """Real WebSocket subscribers in a spawned process, so receiving does not compete with
    sending for this process's GIL; both read the same system-wide monotonic clock. Arrivals
    are (label, key, time): key is the payload's "seq" (a direct publish) or message id."""

    def __init__(self, ws_url: str, clients: list[dict]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_listener_main, args=(ws_url, clients, child), daemon=True
        )

    def start(self, timeout: float = 120) -> Listener:
        self.process.start()
        if not self.conn.poll(timeout) or self.conn.recv() != "ready":
            self.process.terminate()
            raise RuntimeError("the subscribers did not connect")
        return self

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self) -> int:
        self.conn.send("count")
        return self.conn.recv()

    def collect(self) -> list[tuple[str, int, float]]:
        """The arrivals since the last collect."""
        self.conn.send("collect")
        return self.conn.recv()

    def wait_for(self, expected: int, timeout: float = 10, quiet: float = 1.5) -> bool:
        """Until `expected` arrivals, `timeout` seconds, or nothing new for `quiet` seconds
        (what is lost stays lost); True if all came."""
        deadline = time.monotonic() + timeout
        seen, last_change = -1, time.monotonic()
        while True:
            now = time.monotonic()
            count = self.count()
            if count >= expected:
                return True
            if count != seen:
                seen, last_change = count, now
            if now > deadline or now - last_change > quiet:
                return False
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self.conn.send("stop")
                if self.conn.poll(10):
                    self.conn.recv()
            self.process.terminate()


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


def inbox_tally(inbox: Any) -> dict[str, int]:
    """What an SMTP sink holds: messages, distinct Message-IDs, and the repeats (duplicates)."""
    ids = Counter(message.message_id for message in inbox.messages())
    return {
        "received": sum(ids.values()),
        "distinct_message_ids": len(ids),
        "duplicate_message_ids": sum(n - 1 for n in ids.values() if n > 1),
    }

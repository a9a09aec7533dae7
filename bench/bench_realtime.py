"""Live delivery latency: from the API call returning to the message arriving at subscribers.

Two phases against the same real services and the same WebSocket subscribers:

- floor: publish straight to Centrifugo's HTTP API (`cent`), timed from the call returning;
- pipeline: POST /api/chats/<id>/messages/ (in-process DRF client, real database), then the
  outbox row -> a real Celery worker -> Centrifugo, timed from the API call returning.

The subscribers run in another process (so receiving does not compete with posting for the
GIL); both processes read the same system-wide monotonic clock. Figures are printed as p50/p99
and as ratios pipeline/floor, and written to bench/results/.

    .venv/bin/python bench/bench_realtime.py                 # 100 subscribers, 50 msg/s, 30 s
    .venv/bin/python bench/bench_realtime.py --subscribers 10 --rate 10 --duration 5  # quick
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402 (bench/ is on sys.path)
    add_common_args,
    bench_database,
    percentile,
    setup_django,
    write_results,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100, help="WebSocket clients")
    parser.add_argument("--rate", type=float, default=50, help="messages per second")
    parser.add_argument("--duration", type=float, default=30, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument("--clients", type=int, default=4, help="threads posting to the API")
    add_common_args(parser)
    return parser.parse_args()


# --- the subscriber process ----------------------------------------------------------------------


def subscriber_main(ws_url: str, clients: list[dict], conn: mp.connection.Connection) -> None:
    """Connect every client, report ready, record arrivals until told to stop, send them back."""
    asyncio.run(_subscribe_all(ws_url, clients, conn))


async def _subscribe_all(ws_url: str, clients: list[dict], conn) -> None:
    from centrifuge import Client, PublicationContext, SubscriptionEventHandler

    arrivals: list[tuple[str, int, float]] = []  # (phase, key, monotonic time)

    class Events(SubscriptionEventHandler):
        def __init__(self, phase: str) -> None:
            self.phase = phase

        async def on_publication(self, ctx: PublicationContext) -> None:
            now = time.monotonic()
            data = ctx.pub.data
            key = data["seq"] if self.phase == "floor" else data["message"]["id"]
            arrivals.append((self.phase, key, now))

    live = []
    for spec in clients:
        client = Client(ws_url, token=spec["token"], proxy=None, timeout=20)
        await client.connect()
        for phase, channel, token in spec["subscriptions"]:
            sub = client.new_subscription(channel, events=Events(phase), token=token)
            await sub.subscribe()
            live.append(sub)
        live.append(client)
    for item in live:
        await item.ready(timeout=30)
    conn.send("ready")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send(arrivals)
    for item in live:
        if hasattr(item, "disconnect"):
            await item.disconnect()


# --- the benchmark -------------------------------------------------------------------------------


def paced(rate: float, duration: float):
    """Yield at a steady rate; if a step ran late, the next one starts at once (no burst)."""
    count = int(rate * duration)
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield i


def summarize(name: str, sent: dict[int, float], arrivals: list, subscribers: int) -> dict:
    latencies = [(t - sent[key]) * 1000 for _, key, t in arrivals if key in sent]
    expected = len(sent) * subscribers
    return {
        "phase": name,
        "messages": len(sent),
        "deliveries": len(latencies),
        "expected_deliveries": expected,
        "lost": expected - len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
    }


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    database_url, drop_database = bench_database(args.database_url, workdir, "bench_realtime")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")  # as the Procfile's worker runs
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    os.environ["LOG_LEVEL"] = "WARNING"

    from chatplatform import testing

    redis = testing.redis_process().start()
    hub = testing.centrifugo_process().start()
    os.environ.update(
        REDIS_URL=redis.url,
        CELERY_BROKER_URL=redis.url,
        CENTRIFUGO_API_URL=hub.api_url,
        CENTRIFUGO_WS_URL=hub.ws_url,
        CENTRIFUGO_HTTP_API_KEY=hub.api_key,
        CENTRIFUGO_TOKEN_HMAC_SECRET_KEY=hub.token_secret,
    )
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from chatplatform import centrifugo
    from chats import services

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    users = [
        get_user_model().objects.create_user(f"bench{n}", f"bench{n}@example.com", "x" * 12)
        for n in range(args.subscribers + 1)
    ]
    author = users[0]
    chat = services.create_chat(title="bench", creator_id=author.pk)
    for user in users[1:]:
        services.add_member(chat_id=chat.pk, actor_id=author.pk, user_id=user.pk)
    from chats.models import Notification

    Notification.objects.all().delete()  # membership emails are not what this measures
    floor_channel = "chat:999999"
    chat_channel = centrifugo.chat_channel(chat.pk)
    clients = [
        {
            "token": centrifugo.connection_token(user.pk, ttl=3600),
            "subscriptions": [
                (
                    "floor",
                    floor_channel,
                    centrifugo.subscription_token(user.pk, floor_channel, 3600),
                ),
                (
                    "pipeline",
                    chat_channel,
                    centrifugo.subscription_token(user.pk, chat_channel, 3600),
                ),
            ],
        }
        for user in users[1:]
    ]

    worker = testing.celery_worker_process(
        testing.django_env(LOG_LEVEL="WARNING"), concurrency=args.workers, name="bench-worker"
    )
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    listener = ctx.Process(target=subscriber_main, args=(hub.ws_url, clients, child), daemon=True)
    results: dict = {}
    try:
        worker.start()
        listener.start()
        if not parent.poll(120) or parent.recv() != "ready":
            raise RuntimeError("subscribers did not connect")
        print(
            f"{args.subscribers} subscribers connected; {args.rate:g} msg/s for {args.duration:g} s"
        )

        # Phase 1, the floor: Centrifugo's API directly.
        floor_sent: dict[int, float] = {}
        for seq in paced(args.rate, args.duration):
            centrifugo.publish(floor_channel, {"seq": seq, "text": f"floor {seq}"})
            floor_sent[seq] = time.monotonic()
        time.sleep(2)

        # Phase 2, the pipeline: the API, the outbox, the worker, Centrifugo.
        url = f"/api/chats/{chat.pk}/messages/"
        api_sent: dict[int, float] = {}
        api_durations: list[float] = []
        local = threading.local()

        def post(seq: int) -> None:
            # Several posting threads, as several clients would: one alone cannot reach 50/s.
            if not hasattr(local, "api"):
                local.api = APIClient()
                local.api.force_authenticate(author)
            before = time.monotonic()
            response = local.api.post(url, {"text": f"bench message {seq}"}, format="json")
            returned = time.monotonic()
            assert response.status_code == 201, response.content[:300]
            api_sent[response.json()["id"]] = returned
            api_durations.append((returned - before) * 1000)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            for future in [pool.submit(post, seq) for seq in paced(args.rate, args.duration)]:
                future.result()
        achieved = len(api_sent) / (time.monotonic() - started)
        if achieved < 0.95 * args.rate:
            print(f"warning: the API was posted at {achieved:.1f} msg/s, not {args.rate:g}")
        deadline = time.monotonic() + 30
        from chats.models import OutboxStatus, Publication

        while Publication.objects.exclude(status=OutboxStatus.SENT).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(2)

        parent.send("stop")
        arrivals = parent.recv()
        pipeline = summarize(
            "pipeline (API -> outbox -> worker -> Centrifugo)",
            api_sent,
            [a for a in arrivals if a[0] == "pipeline"],
            args.subscribers,
        )
        floor = summarize(
            "floor (cent -> Centrifugo)",
            floor_sent,
            [a for a in arrivals if a[0] == "floor"],
            args.subscribers,
        )
        results = {
            "subscribers": args.subscribers,
            "rate": args.rate,
            "duration_s": args.duration,
            "achieved_api_rate": round(achieved, 1),
            "api_call_p50_ms": percentile(api_durations, 50),
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "worker_concurrency": args.workers,
            "floor": floor,
            "pipeline": pipeline,
            "ratio_p50": pipeline["p50_ms"] / floor["p50_ms"],
            "ratio_p99": pipeline["p99_ms"] / floor["p99_ms"],
        }
    finally:
        if listener.is_alive():
            listener.terminate()
        worker.stop()
        hub.stop()
        redis.stop()
        drop_database()

    print(
        f"\nAPI posts at {results['achieved_api_rate']} msg/s (asked {args.rate:g}); "
        f"API call p50 {results['api_call_p50_ms']:.1f} ms; {results['database']}"
    )
    print(f"{'phase':52} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>6}")
    for row in (results["floor"], results["pipeline"]):
        print(
            f"{row['phase']:52} {row['p50_ms']:8.1f} {row['p90_ms']:8.1f} {row['p99_ms']:8.1f} "
            f"{row['max_ms']:8.1f} {row['lost']:6d}"
        )
    print(f"pipeline / floor: p50 x{results['ratio_p50']:.1f}, p99 x{results['ratio_p99']:.1f}")
    write_results(args.results, "realtime", results)


if __name__ == "__main__":
    main()

"""What the chat pages report as live lag, against what the benchmark's own subscribers measure,
under the live benchmark's load (issue 27).

Real services on a throwaway database of --database-url: Redis, Centrifugo, the `live` worker
group, and a web process (make prod's gunicorn config, --web-workers sync workers, DEBUG off)
that publishes each message to Centrifugo right after commit. Into one chat, for --duration
seconds at --rate messages a second, its owner posts through the web process's API
(POST /api/chats/<id>/messages/, --clients threads, bench.live's Pacer) while

- --pages headless Chromium pages (testing.browser), each a member logged in through the login
  form, have the chat open: chat.js measures each live message from the server's publish
  (`tags.sent_at`) to its arrival, clock offset corrected, and reports a uniform sample of them
  (LIVE_LAG_BATCH every 10 s, the rest by sendBeacon when the page is left) into the web
  process's histogram chatplatform_live_browser_lag_seconds;
- --subscribers WebSocket clients (bench.listener, another process) on the same chat stamp each
  arrival; the benchmark's measure, as bench_capacity's: the message's created_at to arrival.

After the run the pages are left (their last values go by beacon) and /metrics is read: the
histogram's count, mean, and p50/p95 by interpolation within its buckets (as Prometheus'
histogram_quantile does, and as the alert and the dashboard read it). Reported beside the
subscribers' p50/p95, exact and interpolated within the same buckets (so a difference is not the
buckets' resolution), and the difference browser - subscribers. The subscribers' clock starts
earlier (created_at is taken in the request's transaction, before the commit and the publish
call's `sent_at`), so they should read a little higher; the browsers add their own rendering
and reporting, and a page's clock offset is uncertain by half a round trip.

    .venv/bin/python -m bench.bench_browser_lag --database-url "$(scripts/postgres.sh)"
    .venv/bin/python -m bench.bench_browser_lag --database-url ... --pages 2 --duration 20
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.bench_tracing import Services, code_version, token
from bench.common import add_common_args, percentile, throwaway_run, write_results
from bench.listener import Listener, subscriber_specs
from bench.live import Pacer, Sent, chat_with_members

METRIC = "chatplatform_live_browser_lag_seconds"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20, help="messages posted a second")
    parser.add_argument("--duration", type=float, default=60, help="seconds of posting")
    parser.add_argument("--pages", type=int, default=5, help="Chromium pages on the chat")
    parser.add_argument("--subscribers", type=int, default=20, help="WebSocket subscribers")
    parser.add_argument("--clients", type=int, default=2, help="threads posting to the API")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--warmup", type=int, default=20, help="messages posted before the pages open"
    )
    add_common_args(parser, database_help="PostgreSQL server to create a throwaway database on")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("--database-url: a PostgreSQL server (as make bench and make prod run)")
    return args


def main() -> None:
    args = parse_args()
    with throwaway_run(args.database_url, "browser_lag") as (workdir, url, stack):
        results = run(args, workdir, url, stack)
    report(results)
    write_results(args.results, "browser-lag", results)


# --- the histogram ----------------------------------------------------------------------------


def read_histogram(web_url: str, bearer: str) -> dict:
    """The lag histogram as the web process's /metrics serves it: cumulative buckets (upper
    bound -> count, +Inf last), count and sum."""
    text = requests.get(
        f"{web_url}/metrics", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
    ).text
    buckets = {
        float(le): float(value)
        for le, value in re.findall(
            rf'^{METRIC}_bucket\{{le="([^"]+)"\}} (\S+)$', text, re.MULTILINE
        )
    }
    totals = dict(re.findall(rf"^{METRIC}_(count|sum) (\S+)$", text, re.MULTILINE))
    return {
        "buckets": dict(sorted(buckets.items())),
        "count": float(totals.get("count", 0)),
        "sum": float(totals.get("sum", 0)),
    }


def bucket_quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus' histogram_quantile: the bucket the q-th value falls in, linearly
    interpolated between its bounds (the first bucket from 0; in +Inf: the last finite
    bound)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0
    if not total:
        return float("nan")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def as_buckets(values_s: list[float], bounds: list[float]) -> dict[float, float]:
    """`values_s` counted into cumulative buckets of these upper bounds."""
    return {bound: float(sum(1 for v in values_s if v <= bound)) for bound in bounds}


def wait_settled(web_url: str, bearer: str, quiet: float = 4, timeout: float = 40) -> dict:
    """The histogram once its count has not changed for `quiet` seconds (the beacons are in)."""
    deadline = time.monotonic() + timeout
    last = read_histogram(web_url, bearer)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = read_histogram(web_url, bearer)
        if now["count"] != last["count"]:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


# --- the pages --------------------------------------------------------------------------------


def open_pages(browser: Any, web_url: str, users: list, chat_id: int) -> list:
    """A page per user, each in its own context (its own session), logged in through the
    login form, on the chat, subscribed and its clock offset measured."""
    from testing.browser import log_in

    pages = []
    for user in users:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.on("pageerror", lambda error, name=user.username: print(f"[{name}] error: {error}"))
        page.set_default_timeout(30_000)
        log_in(page, web_url, user, f"/chat/?chat={chat_id}")
        page.wait_for_selector(f"body[data-subscribed-chat='{chat_id}']")
        page.wait_for_selector("body[data-clock-offset]")
        pages.append(page)
    return pages


def poster(web_url: str, api_token: str, chat_id: int) -> Any:
    """POST a message through the web process's API, a kept session per thread."""
    url = f"{web_url}/api/chats/{chat_id}/messages/"
    local = threading.local()

    def post(seq: int) -> Sent:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Token {api_token}"
        started = time.monotonic()
        response = local.session.post(url, json={"text": f"lag {seq}"}, timeout=30)
        returned = time.monotonic()
        if response.status_code != 201:
            raise RuntimeError(f"post: HTTP {response.status_code} {response.text[:300]}")
        return Sent(response.json()["id"], started, returned)

    return post


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, database_url: str, stack: Any) -> dict:
    import testing

    services = Services(database_url, workdir, stack, smtp=False)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from chats.models import Message
    from integrations import centrifugo
    from testing.browser import launch_chromium
    from testing.people import PASSWORD

    owner, chat, members = chat_with_members(args.pages + args.subscribers, prefix="lag")
    readers, listeners = members[: args.pages], members[args.pages :]
    # The server's hasher, once for all the readers: hashing is slow on purpose.
    get_user_model().objects.filter(pk__in=[u.pk for u in readers]).update(
        password=make_password(PASSWORD)
    )
    bearer = services.web_env["METRICS_BEARER_TOKEN"]
    services.collectstatic()
    stack.enter_context(testing.WorkerProcess(services.web_env, group="live", name="lag-live"))
    web = services.web(
        "web",
        stack,
        workers=args.web_workers,
        # Over plain http on loopback: cookies a browser sends without TLS.
        DJANGO_SECURE_COOKIES="false",
        LIVE_LAG_SAMPLE_RATE="1",
    )
    channel = centrifugo.chat_channel(chat.pk)
    listener = stack.enter_context(
        Listener(services.hub.ws_url, subscriber_specs(listeners, [("post", channel)]))
    )
    offset = time.time() - time.monotonic()  # the listener stamps arrivals with monotonic time
    post = poster(web.url, token(owner), chat.pk)
    pacer = stack.enter_context(Pacer(threads=args.clients))
    pacer.run(post, rate=args.rate, count=args.warmup)  # the web workers' first requests
    listener.wait_for(args.warmup * len(listeners), timeout=10)
    listener.collect()

    # Playwright's sync API runs an event loop in this thread: the ORM calls here stay
    # synchronous (testing.browser does the same for the tests).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    playwright = stack.enter_context(sync_playwright())
    browser = launch_chromium(playwright)
    stack.callback(browser.close)
    pages = open_pages(browser, web.url, readers, chat.pk)
    before = read_histogram(web.url, bearer)
    print(
        f"browser lag: {args.rate:g} msg/s for {args.duration:g} s into one chat; "
        f"{len(pages)} Chromium pages, {len(listeners)} subscribers; {args.web_workers} web "
        f"workers; histogram count before: {before['count']:g}",
        flush=True,
    )

    count = round(args.rate * args.duration)
    started = time.monotonic()
    sent = pacer.run(post, rate=args.rate, count=count)
    elapsed = time.monotonic() - started
    listener.wait_for(len(sent) * len(listeners), timeout=20)
    arrivals = listener.collect()
    for page in pages:  # leaving: what each page kept since its last report goes by beacon
        page.goto("about:blank")
    after = wait_settled(web.url, bearer)

    created = dict(
        Message.objects.filter(pk__in=[s.key for s in sent]).values_list("id", "created_at")
    )
    # Opened under Playwright's greenlet, this connection is not the one the database's
    # dropper closes: close it here.
    connection.close()
    latencies = [t + offset - created[key].timestamp() for _, key, t in arrivals if key in created]
    bounds = list(after["buckets"])
    browser_buckets = {b: after["buckets"][b] - before["buckets"].get(b, 0) for b in bounds}
    browser_count = after["count"] - before["count"]
    browser_sum = after["sum"] - before["sum"]
    subscriber_buckets = as_buckets(latencies, bounds)
    browser_row = {
        "values": browser_count,
        "mean_ms": 1000 * browser_sum / browser_count if browser_count else float("nan"),
        "p50_ms": 1000 * bucket_quantile(0.5, browser_buckets),
        "p95_ms": 1000 * bucket_quantile(0.95, browser_buckets),
        "buckets": {str(b): v for b, v in browser_buckets.items()},
    }
    subscriber_row = {
        "deliveries": len(latencies),
        "expected_deliveries": len(sent) * len(listeners),
        "mean_ms": 1000 * statistics.fmean(latencies) if latencies else float("nan"),
        "p50_ms": 1000 * percentile(latencies, 50),
        "p95_ms": 1000 * percentile(latencies, 95),
        "p99_ms": 1000 * percentile(latencies, 99),
        "p50_bucket_ms": 1000 * bucket_quantile(0.5, subscriber_buckets),
        "p95_bucket_ms": 1000 * bucket_quantile(0.95, subscriber_buckets),
    }
    calls = [(s.returned - s.started) * 1000 for s in sent]
    return {
        "code": code_version(),
        "rate": args.rate,
        "duration_s": args.duration,
        "sent": len(sent),
        "sent_per_s": len(sent) / elapsed,
        "post_p50_ms": percentile(calls, 50),
        "post_p99_ms": percentile(calls, 99),
        "pages": len(pages),
        "subscribers": len(listeners),
        "web_workers": args.web_workers,
        "browser": browser_row,
        "subscribers_lag": subscriber_row,
        "difference": {
            "p50_ms": browser_row["p50_ms"] - subscriber_row["p50_bucket_ms"],
            "p95_ms": browser_row["p95_ms"] - subscriber_row["p95_bucket_ms"],
            "p50_exact_ms": browser_row["p50_ms"] - subscriber_row["p50_ms"],
            "p95_exact_ms": browser_row["p95_ms"] - subscriber_row["p95_ms"],
        },
        "machine": {"cores": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
    }


# --- output -----------------------------------------------------------------------------------


def report(results: dict) -> None:
    b, s, d = results["browser"], results["subscribers_lag"], results["difference"]
    print(
        f"\n{results['sent']} messages at {results['sent_per_s']:.1f}/s (posting p50 "
        f"{results['post_p50_ms']:.1f} ms, p99 {results['post_p99_ms']:.1f} ms); "
        f"{results['pages']} pages, {results['subscribers']} subscribers; code {results['code']}"
    )
    print(f"{'':44} {'values':>8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    print(
        f"{'browsers (/metrics, sent_at -> page, buckets)':44} {b['values']:8.0f} "
        f"{b['p50_ms']:8.1f} {b['p95_ms']:8.1f} {b['mean_ms']:8.1f}"
    )
    print(
        f"{'subscribers (created_at -> arrival, exact)':44} {s['deliveries']:8d} "
        f"{s['p50_ms']:8.1f} {s['p95_ms']:8.1f} {s['mean_ms']:8.1f}"
    )
    print(
        f"{'subscribers, in the same buckets':44} {'':8} {s['p50_bucket_ms']:8.1f} "
        f"{s['p95_bucket_ms']:8.1f}"
    )
    print(
        f"browsers - subscribers (same buckets): p50 {d['p50_ms']:+.1f} ms, p95 "
        f"{d['p95_ms']:+.1f} ms (exact subscribers: p50 {d['p50_exact_ms']:+.1f}, p95 "
        f"{d['p95_exact_ms']:+.1f}); deliveries {s['deliveries']}/{s['expected_deliveries']}"
    )


if __name__ == "__main__":
    main()

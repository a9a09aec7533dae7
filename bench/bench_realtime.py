"""Live delivery latency: from the start of the API request to the message at its subscribers.

Phases against the same real services (Redis, Centrifugo, a `live` worker group, the database
of --database-url) and the same WebSocket subscribers (in another process), at each rate:

- floor: publish straight to Centrifugo's HTTP API (`cent`), timed from the call's start;
- pipeline, per --paths: POST /api/chats/<id>/messages/ (in-process DRF client, real database)
  timed from the request's start, then either
  - after-commit (the default layout): the web process publishes right after commit, or
  - worker (CENTRIFUGO_PUBLISH_AFTER_COMMIT=false, the layout before): the outbox row -> the
    `live` queue -> a worker -> Centrifugo.

Each phase reports p50/p99 of the delivery latency, the calls' own latency, and the share of
the offered rate delivered. The rates climb until the floor no longer keeps up here (>= 95 % of
the offered rate delivered with p99 < 1 s): that is what this machine can measure. For each
path it names the first rate where the pipeline's p99 exceeds twice the floor's. The API is
posted from this process (--clients threads sharing one GIL, as one web process would serve
it): where a path's sent/s falls short of the rate, that is the limit it hit. Results go to
bench/results/.

    .venv/bin/python -m bench.bench_realtime     # 100 subscribers, 50..300 msg/s, 10 s a phase
    .venv/bin/python -m bench.bench_realtime --subscribers 10 --rates 10 --duration 5  # quick
    .venv/bin/python -m bench.bench_realtime --rates 50 --duration 30 --paths worker
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import time

from bench.common import (
    add_common_args,
    setup_django,
    write_results,
)
from bench.listener import Listener, subscriber_specs
from bench.live import (
    LiveServices,
    Pacer,
    Sent,
    api_poster,
    chat_with_members,
    live_services,
    summarize,
    wait_for_outbox,
)

PATHS = {
    "after-commit": "after-commit (API -> web publishes)",
    "worker": "worker (API -> live queue -> worker)",
}
FLOOR = "floor (cent -> Centrifugo)"
SUSTAINED_PCT, SUSTAINED_P99_MS = 95.0, 1000.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100, help="WebSocket clients")
    parser.add_argument(
        "--rates",
        "--rate",
        default="50,75,100,150,200,300",
        help="messages per second, climbed in order until the floor no longer keeps up",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per phase")
    parser.add_argument(
        "--paths",
        "--path",
        default="after-commit,worker",
        help=f"pipelines to measure at each rate, of {', '.join(PATHS)}",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="live worker concurrency (default: declared)"
    )
    parser.add_argument("--clients", type=int, default=4, help="threads posting to the API")
    add_common_args(parser)
    args = parser.parse_args()
    args.rates = [float(rate) for rate in args.rates.split(",")]
    args.paths = args.paths.split(",")
    if unknown := set(args.paths) - set(PATHS):
        parser.error(f"unknown --paths {sorted(unknown)}: choose from {', '.join(PATHS)}")
    return args


def sustained(row: dict) -> bool:
    """The phase kept up with its rate: enough of it delivered, soon enough."""
    return row["delivered_pct"] >= SUSTAINED_PCT and row["p99_ms"] < SUSTAINED_P99_MS


def highest_sustained(runs: list[dict], key: str) -> float | None:
    """The highest rate `key` (floor or a path) kept up with, climbing from the lowest rate."""
    rates = list(itertools.takewhile(lambda run: sustained(run[key]), runs))
    return rates[-1]["rate"] if rates else None


def main() -> None:
    args = parse_args()
    with contextlib.ExitStack() as stack:  # stops what it started, last first, on any failure
        rig = stack.enter_context(live_services(args.database_url, "bench-realtime"))
        runs = measure(args, rig, stack)
    from django.conf import settings

    over_2x = {
        path: next(
            (run["rate"] for run in runs if run[path]["p99_ms"] > 2 * run["floor"]["p99_ms"]),
            None,
        )
        for path in args.paths
    }
    results = {
        "subscribers": args.subscribers,
        "duration_s": args.duration,
        "clients": args.clients,
        "paths": args.paths,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "live_worker_concurrency": args.workers or settings.WORKER_GROUPS["live"]["concurrency"],
        "runs": runs,
        "sustains_up_to": {key: highest_sustained(runs, key) for key in ["floor", *args.paths]},
        "first_rate_pipeline_p99_over_2x_floor": over_2x,
    }
    print(f"\n{args.subscribers} subscribers, {results['database']}; latency from the call's start")
    print_table(runs, args.paths)
    print(
        f"floor keeps up (>= {SUSTAINED_PCT:g} % delivered, p99 < {SUSTAINED_P99_MS:g} ms) "
        f"up to {format(results['sustains_up_to']['floor'] or 0, 'g')} msg/s here "
        f"(rates tried: {', '.join(format(run['rate'], 'g') for run in runs)})"
    )
    for path, rate in over_2x.items():
        where = f"first at {rate:g} msg/s" if rate else "at no rate measured"
        if rate is not None and rate == runs[0]["rate"]:
            where += " (the lowest rate tried)"
        kept = results["sustains_up_to"][path]
        print(
            f"{path}: keeps up to {format(kept, 'g') + ' msg/s' if kept else 'no rate tried'}; "
            f"pipeline p99 > 2x floor p99 {where}"
        )
    write_results(args.results, "realtime", results)


def measure(args: argparse.Namespace, rig: LiveServices, stack: contextlib.ExitStack) -> list:
    """Every rate, floor then each path, until the floor no longer keeps up; every process it
    starts goes on `stack`, so the caller stops it."""
    setup_django()
    from django.conf import settings

    import testing
    from integrations import centrifugo

    author, chat, members = chat_with_members(args.subscribers)
    floor_channel = "chat:999999"
    clients = subscriber_specs(
        members, [("floor", floor_channel), ("pipeline", centrifugo.chat_channel(chat.pk))]
    )
    stack.enter_context(
        testing.WorkerProcess(
            testing.django_env(LOG_LEVEL="WARNING"),
            group="live",
            concurrency=args.workers,
            name="bench-live",
        )
    )
    listener = stack.enter_context(Listener(rig.hub.ws_url, clients))
    pacer = stack.enter_context(Pacer(args.clients))
    floor_seq = itertools.count()

    def publish(_: int) -> Sent:
        seq = next(floor_seq)
        started = time.monotonic()
        centrifugo.publish(floor_channel, {"seq": seq, "text": f"floor {seq}"})
        return Sent(seq, started, time.monotonic())

    post = api_poster(author, chat.pk)

    def phase(name: str, label: str, rate: float, path: str | None = None) -> dict:
        """One phase at `rate`; `path` sets the web side's CENTRIFUGO_PUBLISH_AFTER_COMMIT (read
        per call by chats.realtime, so one process measures both layouts)."""
        if path is not None:
            settings.CENTRIFUGO_PUBLISH_AFTER_COMMIT = path == "after-commit"
        count = round(rate * args.duration)
        sent = pacer.run(post if path else publish, rate, count)
        wait_for_outbox()
        listener.wait_for(len(sent) * args.subscribers)
        row = summarize(name, sent, listener.collect(), label, args.subscribers, offered=count)
        span = max(s.started for s in sent) - min(s.started for s in sent) + 1 / rate
        row["sent_per_s"] = len(sent) / span
        return row

    print(
        f"{args.subscribers} subscribers connected; rates {args.rates} msg/s, "
        f"{args.duration:g} s a phase, paths {args.paths}, {args.clients} posting threads"
    )
    # Warm-up, discarded: connections, imports, the first queries of each path; at 50 msg/s at
    # least, so that a low first rate (a quick or tiny run) does not spend seconds on it.
    for path in [None, *args.paths]:
        if path is not None:
            settings.CENTRIFUGO_PUBLISH_AFTER_COMMIT = path == "after-commit"
        pacer.run(post if path else publish, max(args.rates[0], 50.0), 20)
    wait_for_outbox()
    time.sleep(1)
    listener.collect()

    runs: list[dict] = []
    for rate in args.rates:
        run = {"rate": rate, "floor": phase(FLOOR, "floor", rate)}
        for path in args.paths:
            run[path] = phase(PATHS[path], "pipeline", rate, path)
        runs.append(run)
        print_run(run, args.paths)
        if not sustained(run["floor"]):
            print(f"the floor no longer keeps up at {rate:g} msg/s: no higher rate")
            break
    return runs


def print_run(run: dict, paths: list[str]) -> None:
    floor = run["floor"]
    parts = [f"floor p99 {floor['p99_ms']:.0f} ms ({floor['delivered_pct']:.0f} %)"]
    parts += [f"{path} p99 {run[path]['p99_ms']:.0f} ms" for path in paths]
    print(f"  {run['rate']:g} msg/s: " + ", ".join(parts))


def print_table(runs: list[dict], paths: list[str]) -> None:
    head = f"{'msg/s':>6} {'phase':38} {'sent/s':>7} {'deliv%':>7} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{head} {'max ms':>8} {'call p50':>8} {'call p99':>8} {'p99/floor':>9} keeps up")
    for run in runs:
        floor = run["floor"]
        for key in ["floor", *paths]:
            row = run[key]
            ratio = row["p99_ms"] / floor["p99_ms"]
            print(
                f"{run['rate']:6g} {row['phase']:38} {row['sent_per_s']:7.1f} "
                f"{row['delivered_pct']:7.1f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
                f"{row['max_ms']:8.1f} {row['call_p50_ms']:8.1f} {row['call_p99_ms']:8.1f} "
                f"{'x' + format(ratio, '.1f'):>9} {'yes' if sustained(row) else 'no'}"
            )


if __name__ == "__main__":
    main()

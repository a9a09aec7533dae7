"""Past one machine: what a second Centrifugo node costs in delivery latency, and how many idle
WebSocket connections one node holds per GiB of memory.

Real processes only (Centrifugo from centrifugo/config.json, Redis, WebSocket clients in their
own processes); no database, no Django request path: this is Centrifugo's share alone.

1. Delivery latency, publish (HTTP API, `cent`) -> WebSocket subscribers, at a fixed rate, on
   the project's `chat:` namespace (history, presence, join/leave, as the chats use it):
   - baseline: ONE node on the in-memory engine (today's layout), published to and subscribed on;
   - two nodes sharing one Redis (CENTRIFUGO_ENGINE_TYPE=redis): published to node A with the
     subscribers on A (same node), and published to node B with the subscribers on A (cross-node,
     the case a second node adds). The layouts take turns (--rounds), so a noisy neighbour on
     this shared machine hits them alike. p50/p99 as ratios to the baseline; lost must be 0.
2. Memory per idle connection on one node (--memory-engines): its RSS (VmRSS) idle, then with
   each of --connections clients connected, as the app connects them (the connection token's
   server-side subscription to online:users) and subscribed to one chat channel (chats of
   --chat-size members). KiB per connection (all of them, and the marginal step between the
   last two sizes), the connections one GiB holds, and centrifugo_node_num_clients as the node
   counts them. The clients are plain `websockets` speaking Centrifugo's JSON protocol
   (answering its pings), many per asyncio process, so the client side stays cheap.

    .venv/bin/python -m bench.bench_centrifugo_nodes      # 100 subscribers, 50 msg/s; 2,000, 5,000
    .venv/bin/python -m bench.bench_centrifugo_nodes --subscribers 10 --duration 2 \\
        --connections 200,500 --memory-engines memory          # quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import time
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, write_results
from bench.listener import Listener, Spawned, client_spec, serve
from bench.live import Pacer, Sent, summarize

CHANNEL = "chat:1"  # the chats' namespace: history, presence and join/leave as configured
BASELINE = "one node, memory engine"
LAYOUTS = {
    "baseline": BASELINE,
    "same-node": "two nodes, Redis engine: publish A -> subscribers A",
    "cross-node": "two nodes, Redis engine: publish B -> subscribers A",
}
GIB_KIB = 1024 * 1024
TOKEN_SECRET = "bench-centrifugo-token-secret-of-32-bytes-or-more"
SETTLE_S = 3.0  # after the last connection: let Go's allocator and the clients' joins settle


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100, help="WebSocket subscribers")
    parser.add_argument("--rate", type=float, default=50, help="messages per second")
    parser.add_argument(
        "--duration", type=float, default=5, help="seconds a layout per round (x --rounds)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="turns the layouts take")
    parser.add_argument(
        "--connections", default="2000,5000", help="idle connections to hold, in rising steps"
    )
    parser.add_argument("--chat-size", type=int, default=10, help="connections per chat channel")
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        help="seconds to let a node settle before each memory sample",
    )
    parser.add_argument(
        "--memory-engines",
        default="memory,redis",
        help="engines to measure memory per connection on (memory, redis)",
    )
    parser.add_argument(
        "--results", default=str(RESULTS_DIR), help="folder for the JSON results (bench/results)"
    )
    args = parser.parse_args()
    args.connections = sorted(int(n) for n in args.connections.split(","))
    args.memory_engines = [e for e in args.memory_engines.split(",") if e]
    if unknown := set(args.memory_engines) - {"memory", "redis"}:
        parser.error(f"unknown --memory-engines {sorted(unknown)}: memory, redis")
    return args


def main() -> None:
    args = parse_args()
    # Tokens are signed by the app's own helpers with the secret every node here checks; set
    # before Django's settings are first read (they read the environment once).
    import testing

    os.environ["DJANGO_SETTINGS_MODULE"] = "chatplatform.settings"
    os.environ["CENTRIFUGO_TOKEN_HMAC_SECRET_KEY"] = TOKEN_SECRET
    with testing.RedisProcess() as redis:
        # The engine as a node's Redis URL: None is the in-memory engine.
        engines = {"memory": None, "redis": redis.url}
        latency = measure_latency(args, redis.url)
        memory = {
            engine: measure_memory(args, engine, engines[engine]) for engine in args.memory_engines
        }
    results = {
        "subscribers": args.subscribers,
        "rate": args.rate,
        "duration_s": args.duration * args.rounds,
        "rounds": args.rounds,
        "latency": latency,
        "memory": memory,
    }
    print_latency(latency, args)
    for engine, rows in memory.items():
        print_memory(engine, rows)
    write_results(args.results, "centrifugo_nodes", results)


def node(redis_url: str | None) -> Any:
    """A Centrifugo node on free ports checking TOKEN_SECRET: on the Redis engine at
    `redis_url` (nodes sharing it are one cluster), or in memory (None)."""
    import testing

    return testing.CentrifugoProcess(token_secret=TOKEN_SECRET, redis_url=redis_url)


def cent_client(hub: Any) -> Any:
    """A `cent` client for one node's API, made as the app makes its own."""
    from integrations import centrifugo

    return centrifugo.api_client(hub.api_url, hub.api_key, timeout=5)


def node_count(client: Any) -> int:
    """How many nodes this node knows of: with the Redis engine they find each other there."""
    from cent import InfoRequest

    return len(client.info(InfoRequest()).nodes)


def measure_latency(args: argparse.Namespace, redis_url: str) -> dict:
    """The three layouts in turns, each round --duration seconds at --rate; p50/p99 pooled over
    the rounds, ratios to the one-node baseline."""
    from cent import PublishRequest

    import testing

    specs = [client_spec(user, [("bench", CHANNEL)]) for user in range(1, args.subscribers + 1)]
    with contextlib.ExitStack() as stack:
        solo = stack.enter_context(node(None))
        node_a = stack.enter_context(node(redis_url))
        node_b = stack.enter_context(node(redis_url))
        api = {hub: cent_client(hub) for hub in (solo, node_a, node_b)}
        # B publishes, A delivers only once they share the engine: check, do not assume.
        testing.wait_until(lambda: node_count(api[node_a]) == 2, 30, "node A to see node B")
        assert node_count(api[solo]) == 1
        on_solo = stack.enter_context(Listener(solo.ws_url, specs))
        on_a = stack.enter_context(Listener(node_a.ws_url, specs))
        pacer = stack.enter_context(Pacer(threads=2))
        route = {
            "baseline": (api[solo], on_solo),
            "same-node": (api[node_a], on_a),
            "cross-node": (api[node_b], on_a),
        }
        seqs = itertools.count()

        def run(layout: str, count: int) -> tuple[list[Sent], list]:
            client, listener = route[layout]

            def publish(_: int) -> Sent:
                seq = next(seqs)
                started = time.monotonic()
                client.publish(PublishRequest(channel=CHANNEL, data={"seq": seq, "text": "x"}))
                return Sent(seq, started, time.monotonic())

            sent = pacer.run(publish, args.rate, count)
            listener.wait_for(len(sent) * args.subscribers)
            return sent, listener.collect()

        print(
            f"{args.subscribers} subscribers on each of 2 nodes; {args.rate:g} msg/s, "
            f"{args.rounds} rounds of {args.duration:g} s a layout"
        )
        for layout in LAYOUTS:  # warm-up, discarded: connections, first publications, Redis
            run(layout, 20)
        pooled: dict[str, tuple[list, list]] = {layout: ([], []) for layout in LAYOUTS}
        for _ in range(args.rounds):
            for layout in LAYOUTS:
                sent, arrivals = run(layout, round(args.rate * args.duration))
                pooled[layout][0].extend(sent)
                pooled[layout][1].extend(arrivals)
    rows = {
        layout: summarize(LAYOUTS[layout], sent, arrivals, "bench", args.subscribers)
        for layout, (sent, arrivals) in pooled.items()
    }
    base = rows["baseline"]
    for row in rows.values():
        row["p50_ratio"] = row["p50_ms"] / base["p50_ms"]
        row["p99_ratio"] = row["p99_ms"] / base["p99_ms"]
    return rows


# --- Idle connections: a crowd of plain WebSocket clients in a process of its own ---------------


async def _reply(ws: Any, want: int) -> dict:
    """Read until the reply to command `want`; answer pings (an empty object) meanwhile."""
    while True:
        frame = await ws.recv()
        for line in frame.splitlines():  # Centrifugo may batch several replies in one frame
            message = json.loads(line)
            if not message:
                await ws.send("{}")
            elif message.get("id") == want:
                if "error" in message:
                    raise RuntimeError(f"command {want} refused: {message['error']}")
                return message


async def _idle(ws: Any) -> None:
    """Stay connected: answer each server ping (`{}`) with a pong, ignore pushes (joins)."""
    with contextlib.suppress(Exception):
        async for frame in ws:
            if any(line == "{}" for line in frame.splitlines()):
                await ws.send("{}")


async def _open_one(ws_url: str, spec: dict) -> Any:
    """Connect with a client_spec's token and subscribe to its channels."""
    import websockets

    ws = await websockets.connect(ws_url, compression=None, open_timeout=60, max_size=2**16)
    await ws.send(json.dumps({"id": 1, "connect": {"token": spec["token"], "name": "bench"}}))
    await _reply(ws, 1)
    for n, (_, channel, token) in enumerate(spec["subscriptions"], start=2):
        await ws.send(json.dumps({"id": n, "subscribe": {"channel": channel, "token": token}}))
        await _reply(ws, n)
    return ws


def _crowd_main(ws_url: str, conn: Connection) -> None:
    # Thousands of sockets in one process: lift the soft open-files limit to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_crowd(ws_url, conn))


async def _crowd(ws_url: str, conn: Connection) -> None:
    """Serve the parent's commands: ("open", specs) -> (held in all, failed, first error);
    "stop" closes every connection."""
    held: list[Any] = []
    idlers: list[asyncio.Task] = []
    gate = asyncio.Semaphore(64)  # handshakes in flight: a burst, not a flood

    async def open_gated(spec: dict) -> Any:
        async with gate:
            return await _open_one(ws_url, spec)

    async def handle(command: str, specs: list[dict] | None) -> Any:
        if command == "stop":
            for task in idlers:
                task.cancel()
            await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
            return "stopped"
        outcomes = await asyncio.gather(*map(open_gated, specs), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        for ws in outcomes:
            if not isinstance(ws, BaseException):
                held.append(ws)
                idlers.append(asyncio.create_task(_idle(ws)))
        return len(held), len(errors), repr(errors[0]) if errors else None

    await serve(conn, handle)


class Crowd(Spawned):
    """Idle WebSocket clients of one node, in a spawned process (its own GIL and fd limit)."""

    stop_timeout = 30  # closing thousands of connections takes a while

    def __init__(self, ws_url: str) -> None:
        super().__init__(_crowd_main, ws_url)

    def open(self, specs: list[dict], timeout: float = 300) -> tuple[int, int, Any]:
        """Connect and subscribe `specs` more clients; (held in all, failed, first error)."""
        return self.ask("open", specs, timeout)


def crowd_specs(start: int, stop: int, chat_size: int) -> list[dict]:
    """client_spec for users start+1..stop, each on one chat channel: chats of `chat_size`."""
    from integrations import centrifugo

    return [
        client_spec(user + 1, [("idle", centrifugo.chat_channel(user // chat_size + 1))])
        for user in range(start, stop)
    ]


def node_sample(hub: Any) -> dict:
    """The node as an operator sees it: RSS from /proc, its counts and Go heap from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    status = Path(f"/proc/{hub.proc.pid}/status").read_text()
    rss_kib = int(
        next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
    )
    with urllib.request.urlopen(hub.metrics_url, timeout=10) as response:  # noqa: S310 - local
        text = response.read().decode()
    wanted = {
        "centrifugo_node_num_clients": "clients",
        "centrifugo_node_num_subscriptions": "subscriptions",
        "go_memstats_heap_inuse_bytes": "heap_inuse_bytes",
        "go_goroutines": "goroutines",
    }
    values = {
        wanted[sample.name]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in wanted
    }
    return {"rss_kib": rss_kib, **{key: int(values.get(key, -1)) for key in wanted.values()}}


def open_files_limit(pid: int) -> str:
    """The node's own "Max open files" (soft hard): the ceiling on its connections."""
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()
    return " ".join(next(line for line in limits if line.startswith("Max open files")).split()[3:5])


def measure_memory(args: argparse.Namespace, engine: str, redis_url: str | None) -> dict:
    """A fresh node on `engine` (see node): idle RSS, then RSS with each number of
    --connections held."""
    import testing

    specs = crowd_specs(0, args.connections[-1], args.chat_size)
    with node(redis_url) as hub, Crowd(hub.ws_url) as crowd:
        time.sleep(args.settle)
        idle = node_sample(hub)
        print(f"{engine} engine: idle node RSS {idle['rss_kib'] / 1024:.1f} MiB")
        steps, held = [], 0
        for n in args.connections:
            started = time.monotonic()
            held, failed, error = crowd.open(specs[held:n])
            took = time.monotonic() - started
            testing.wait_until(
                lambda n=n: node_sample(hub)["clients"] >= n, 60, f"{n} clients on the node"
            )
            time.sleep(args.settle)
            row = {
                "connections": n,
                "held": held,
                "failed": failed,
                "open_s": took,
                **node_sample(hub),
            }
            row["kib_per_connection"] = (row["rss_kib"] - idle["rss_kib"]) / n
            steps.append(row)
            print(
                f"  {n} connections ({failed} failed{', ' + error if error else ''}) in "
                f"{took:.1f} s: RSS {row['rss_kib'] / 1024:.1f} MiB, "
                f"{row['kib_per_connection']:.1f} KiB each"
            )
        limit = open_files_limit(hub.proc.pid)
    last = steps[-1]
    marginal = None
    if len(steps) > 1:
        prev = steps[-2]
        marginal = (last["rss_kib"] - prev["rss_kib"]) / (last["connections"] - prev["connections"])
    per_conn = max(last["kib_per_connection"], marginal or 0)  # the less flattering of the two
    return {
        "engine": engine,
        "chat_size": args.chat_size,
        "node_open_files_limit": limit,
        "idle": idle,
        "steps": steps,
        "marginal_kib_per_connection": marginal,
        "connections_per_gib": GIB_KIB / per_conn if per_conn > 0 else None,
    }


def print_latency(rows: dict, args: argparse.Namespace) -> None:
    print(
        f"\ndelivery latency, {args.subscribers} subscribers, {args.rate:g} msg/s, "
        f"{args.duration * args.rounds:g} s a layout (publish call start -> arrival)"
    )
    print(
        f"{'layout':52} {'msgs':>5} {'lost':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'p50/base':>8} {'p99/base':>8} {'call p50':>8}"
    )
    for row in rows.values():
        print(
            f"{row['phase']:52} {row['messages']:5d} {row['lost']:5d} {row['p50_ms']:7.1f} "
            f"{row['p99_ms']:7.1f} {row['max_ms']:7.1f} {'x' + format(row['p50_ratio'], '.2f'):>8} "
            f"{'x' + format(row['p99_ratio'], '.2f'):>8} {row['call_p50_ms']:8.1f}"
        )


def print_memory(engine: str, result: dict) -> None:
    idle = result["idle"]
    print(
        f"\nidle connections on one node, {engine} engine (each subscribed to one chat of "
        f"{result['chat_size']}; node open-files limit {result['node_open_files_limit']})"
    )
    print(
        f"{'connections':>11} {'clients':>8} {'RSS MiB':>8} {'vs idle':>8} {'KiB/conn':>8} "
        f"{'Go heap MiB':>11}"
    )
    print(
        f"{0:11d} {idle['clients']:8d} {idle['rss_kib'] / 1024:8.1f} {'x1.00':>8} {'':>8} "
        f"{idle['heap_inuse_bytes'] / 2**20:11.1f}"
    )
    for row in result["steps"]:
        print(
            f"{row['connections']:11d} {row['clients']:8d} {row['rss_kib'] / 1024:8.1f} "
            f"{'x' + format(row['rss_kib'] / idle['rss_kib'], '.2f'):>8} "
            f"{row['kib_per_connection']:8.1f} {row['heap_inuse_bytes'] / 2**20:11.1f}"
        )
    marginal = result["marginal_kib_per_connection"]
    if marginal is not None:
        print(f"marginal, between the last two sizes: {marginal:.1f} KiB a connection")
    if result["connections_per_gib"]:
        print(f"=> about {result['connections_per_gib']:,.0f} idle connections per GiB of RSS")


if __name__ == "__main__":
    main()

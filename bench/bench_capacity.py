"""Capacity of the production server: requests a second at p99 <= 100 ms, per endpoint, over TLS.

make prod's processes (testing.production.ProductionStack: nginx terminating TLS in front of
gunicorn with launchers/gunicorn_conf.py, Centrifugo, Redis, the `live` and `email` worker
groups, DEBUG off, no per-user write limit) on a throwaway database of --database-url, loaded
by wrk (Debian's, closed loop: each connection sends its next request when the last answered)
through bench/wrk/capacity.lua over https, the TLS handshake and encryption real:

- floor: GET /livez, a view of the same server that touches neither the database nor Redis;
- healthz: GET /healthz, which pings PostgreSQL and Redis;
- read: GET /api/chats/<id>/messages/, a page of a chat's messages, as several users (tokens);
- post: POST /api/chats/<id>/messages/, spread over --users x --chats (user, chat) pairs, each
  message with its live publication and outbox row, published after commit by the web process.

For each --connections step (--duration seconds each), every endpoint in turn, so that noise
on this shared machine hits all alike. Per endpoint: the best requests a second with p99 <=
--p99-ms and no errors (its connections), and the first step where p99 passes that or errors
begin in each of --tries tries (that endpoint is not stepped further; every try is kept). The
goal (issue 26): posting's best at least half the floor's. Each step counts the gunicorn
workers recycled during it (max_requests: the recycled worker loads Django again before it
serves); --gunicorn-args "--max-requests 0" measures without recycling, for comparison.

WebSocket subscribers (bench/listener.py, in another process, over wss through nginx) on the
posted chats time each message from its created_at to its arrival: the live delivery latency
at each posting step, printed beside the best. Then one more posting step at the best
connections under py-spy (--gil --subprocesses, on the gunicorn master): the functions a
post's CPU is spent in (inclusive %, frames under gunicorn's request handler) and the self time
by package, printed and saved with the raw profile. Each step also reports the cores each part
of the machine used: web, nginx, PostgreSQL, wrk, and "other", the rest of the machine (on a
shared machine, other work).

Results: bench/results/capacity-<time>.json, a .md beside it, and the raw profile.

    .venv/bin/python -m bench.bench_capacity --database-url "$(scripts/postgres.sh)"
    .venv/bin/python -m bench.bench_capacity --database-url ... --connections 1,4,16 --duration 5
    .venv/bin/python -m bench.bench_capacity --database-url ... --gunicorn-args "--max-requests 0"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    add_common_args,
    percentile,
    setup_django,
    throwaway_run,
    write_results,
)
from bench.listener import Listener, client_spec

WRK_SCRIPT = ROOT / "bench" / "wrk" / "capacity.lua"
ENDPOINTS = {
    "floor": "GET /livez (no database, no Redis)",
    "healthz": "GET /healthz (pings PostgreSQL, Redis)",
    "read": "GET a chat's messages (a page)",
    "post": "POST a message (+ publication, outbox row)",
}
GOAL = 0.5  # posting's best / the floor's best
HANDLER = re.compile(r"^(\w+\.)?handle_request \(.*gunicorn/workers/(sync|gthread)\.py")
CPU_PARTS = ("web", "nginx", "postgres", "wrk", "celery", "centrifugo", "redis", "bench", "other")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--connections", default="1,2,4,8,16,32,64", help="wrk connections, stepped in order"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per step")
    parser.add_argument("--p99-ms", type=float, default=100, help="the latency bound of a step")
    parser.add_argument(
        "--web-workers", type=int, default=None, help="gunicorn workers (default: the config's)"
    )
    parser.add_argument(
        "--gunicorn-args",
        default="",
        help="GUNICORN_CMD_ARGS over launchers/gunicorn_conf.py, for a comparison run "
        '(e.g. "--max-requests 0": no worker recycling)',
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (2 cores here)")
    parser.add_argument(
        "--tries", type=int, default=2, help="tries of a step past the bound before it stops"
    )
    parser.add_argument("--users", type=int, default=8, help="posting and reading users")
    parser.add_argument("--chats", type=int, default=4, help="chats posted to")
    parser.add_argument("--read-messages", type=int, default=200, help="messages in the read chat")
    parser.add_argument(
        "--profile-duration", type=float, default=None, help="seconds profiled (default --duration)"
    )
    parser.add_argument("--top", type=int, default=30, help="functions in the profile table")
    parser.add_argument(
        "--endpoints", default=",".join(ENDPOINTS), help=f"of {', '.join(ENDPOINTS)}"
    )
    add_common_args(parser, database_help="PostgreSQL server to create a throwaway database on")
    args = parser.parse_args()
    args.connections = [int(c) for c in args.connections.split(",")]
    args.endpoints = args.endpoints.split(",")
    if unknown := set(args.endpoints) - set(ENDPOINTS):
        parser.error(f"unknown --endpoints {sorted(unknown)}")
    if not args.database_url.startswith("postgres"):
        parser.error(
            "--database-url: a PostgreSQL server (make prod's database; SQLite would "
            "serialise the workers' writes)"
        )
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk; scripts/setup.sh --test does)")
    return args


def main() -> None:
    args = parse_args()
    with throwaway_run(args.database_url, "capacity") as (workdir, url, stack):
        os.environ.update(DATABASE_URL=url, LOG_LEVEL="WARNING")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
        results = run(args, workdir, stack)
    raw = results["profile"].pop("raw", None)
    path = write_results(args.results, "capacity", results)
    if raw is not None:
        raw_path = path.with_suffix(".pyspy.txt")
        raw_path.write_text(raw)
        results["profile"]["raw_file"] = raw_path.name
        path.write_text(json.dumps(results, indent=2))
    markdown = path.with_suffix(".md")
    markdown.write_text(render_markdown(results))
    print(f"written to {markdown.relative_to(ROOT) if markdown.is_relative_to(ROOT) else markdown}")


# --- the data: users, chats, tokens ---------------------------------------------------------


def make_data(args: argparse.Namespace) -> dict:
    """--users users (one password), members of --chats chats and of a read chat holding
    --read-messages messages, and a listener user in every posted chat."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from chats import services
    from chats.models import Membership, Message, Role

    User = get_user_model()
    password = secrets.token_urlsafe(16)
    hashed = make_password(password)  # once: hashing is slow on purpose
    users = [
        User.objects.create(
            username=f"capacity{n}", email=f"capacity{n}@example.com", password=hashed
        )
        for n in range(args.users)
    ]
    listener = User.objects.create(username="capacity-listener", email="listener@example.com")
    owner, others = users[0], users[1:]
    chats = [
        services.create_chat(title=f"capacity {n}", creator_id=owner.pk) for n in range(args.chats)
    ]
    read_chat = services.create_chat(title="capacity reading", creator_id=owner.pk)
    Membership.objects.bulk_create(
        Membership(chat=chat, user=user, role=Role.MEMBER)
        for chat in [*chats, read_chat]
        for user in [*others, *([listener] if chat is not read_chat else [])]
    )
    Message.objects.bulk_create(
        Message(chat=read_chat, author=users[n % len(users)], text=f"capacity message {n}")
        for n in range(args.read_messages)
    )
    return {
        "users": users,
        "password": password,
        "listener": listener,
        "chats": chats,
        "read_chat": read_chat,
    }


def fetch_tokens(base: str, ca_file: Path, usernames: list[str], password: str) -> list[str]:
    """Each user's API token through the server (POST /api/auth/token/), as a client gets it."""
    context = ssl.create_default_context(cafile=str(ca_file))
    tokens = []
    for username in usernames:
        body = json.dumps({"username": username, "password": password}).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(f"{base}/api/auth/token/", body, headers)  # noqa: S310
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            tokens.append(json.load(response)["token"])
    return tokens


def request_files(folder: Path, tokens: list[str], chat_ids: list[int], read_id: int) -> dict:
    """One wrk requests file per endpoint (bench/wrk/capacity.lua's format)."""
    body = json.dumps({"text": "capacity benchmark message"})
    lines = {
        "floor": ["GET\t/livez\t-\t"],
        "healthz": ["GET\t/healthz\t-\t"],
        "read": [f"GET\t/api/chats/{read_id}/messages/\t{t}\t" for t in tokens],
        # every (chat, user) pair, each chat's users rotated: consecutive requests come from
        # different users
        "post": [
            f"POST\t/api/chats/{chat}/messages/\t{t}\t{body}"
            for i, chat in enumerate(chat_ids)
            for t in tokens[i:] + tokens[:i]
        ],
    }
    files = {}
    for name, rows in lines.items():
        files[name] = folder / f"{name}.requests"
        files[name].write_text("\n".join(rows) + "\n")
    return files


# --- measuring --------------------------------------------------------------------------------


def run_wrk(url: str, requests_file: Path, connections: int, duration: float, threads: int) -> dict:
    """One closed-loop wrk run; its figures (from capacity.lua's done()) and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = ["wrk", "-t", str(max(1, min(threads, connections))), "-c", str(connections)]
    argv += ["-d", f"{duration:g}s", "--timeout", "5s", "-s", str(WRK_SCRIPT), url]
    argv += ["--", str(requests_file)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("CAPACITY_JSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("CAPACITY_JSON "))
    figures["cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return figures


class CpuMeter:
    """Cores each part of the machine used between two snapshots of /proc: this run's processes
    (descendants of this one) by what they are, PostgreSQL's backends of this database and its
    background processes, wrk (from the children's rusage, as it has exited by then), and
    "other": the machine's busy time (/proc/stat) less all of those, so other work on a shared
    machine shows there (and the last ticks of a process that exited meanwhile)."""

    tick = os.sysconf("SC_CLK_TCK")

    def __init__(self, own: set[int]) -> None:
        self.own = own  # this process and the listener's

    @staticmethod
    def _stat(pid: str) -> tuple[str, int, int] | None:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        ppid, utime, stime = (int(fields[i]) for i in (1, 11, 12))
        return comm, ppid, utime + stime

    @staticmethod
    def _cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""

    def _part(self, pid: int, comm: str, mine: bool, pg: set[int]) -> str:
        if pid in pg:
            return "postgres"
        if not mine:
            return "other"
        if pid in self.own:
            return "bench"
        cmd = self._cmdline(pid)
        for part, marks in (
            ("web", ("gunicorn",)),
            ("nginx", ("nginx",)),
            ("celery", ("celery",)),
            ("centrifugo", ("centrifugo",)),
            ("redis", ("redis-server",)),
            ("wrk", ("wrk",)),
        ):
            if any(mark in cmd or mark in comm for mark in marks):
                return part
        return "bench" if "multiprocessing" in cmd else "other"

    def snapshot(self) -> tuple[float, float, dict[int, tuple[str, int]]]:
        """(monotonic time, machine busy seconds, {pid: (part, ticks)})."""
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " OR datname IS NULL"
            )
            pg = {row[0] for row in cursor.fetchall()}
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (stat := self._stat(entry)):
                stats[int(entry)] = stat
        children: dict[int, list[int]] = defaultdict(list)
        for pid, (_, ppid, _) in stats.items():
            children[ppid].append(pid)
        mine, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            mine.add(pid)
            todo += children.get(pid, [])
        procs = {
            pid: (self._part(pid, comm, pid in mine, pg), ticks)
            for pid, (comm, _, ticks) in stats.items()
        }
        cpu = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(cpu[:8]) - cpu[3] - cpu[4]) / self.tick  # all but idle and iowait
        return time.monotonic(), busy, procs

    def cores(self, before: tuple, after: tuple, wrk_cpu_s: float) -> dict[str, float]:
        """Average cores each part used between the snapshots."""
        seconds = after[0] - before[0]
        used: Counter[str] = Counter()
        for pid, (part, ticks) in after[2].items():
            used[part] += ticks - before[2].get(pid, (part, 0))[1]
        cores = {part: used[part] / self.tick / seconds for part in CPU_PARTS}
        cores["wrk"] = wrk_cpu_s / seconds
        cores["machine_busy"] = (after[1] - before[1]) / seconds
        cores["other"] = cores["machine_busy"] - sum(cores[p] for p in CPU_PARTS if p != "other")
        return {part: round(max(0.0, value), 3) for part, value in cores.items()}


class RestartCounter:
    """Workers gunicorn recycled (max_requests) so far, from its log: a recycled worker loads
    Django again before it serves, which on a busy machine stalls requests for seconds."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path

    def count(self) -> int:
        try:
            return self.log_path.read_text(errors="replace").count("Autorestarting worker")
        except OSError:
            return 0


def step_row(endpoint: str, connections: int, wrk: dict, p99_bound: float) -> dict:
    """One step's figures, in milliseconds and requests a second."""
    seconds = wrk["duration_us"] / 1e6
    lat = wrk["latency_us"]
    errors = sum(wrk["errors"].values())
    p99 = lat["99"] / 1000
    return {
        "endpoint": endpoint,
        "connections": connections,
        "requests": wrk["requests"],
        "seconds": round(seconds, 3),
        "rps": wrk["requests"] / seconds,
        "p50_ms": lat["50"] / 1000,
        "p90_ms": lat["90"] / 1000,
        "p99_ms": p99,
        "max_ms": lat["max"] / 1000,
        "errors": errors,
        "errors_by_kind": wrk["errors"],
        # a step that completed nothing (the server stalled throughout) is no pass
        "within_bound": p99 <= p99_bound and errors == 0 and wrk["requests"] > 0,
    }


def live_latency(listener: Listener, since_id: int, chat_ids: list[int], offset: float) -> dict:
    """The messages posted in a step (id > since_id in `chat_ids`): each one's time from its
    created_at to its arrival at the chat's subscriber; p50/p99/max, how many arrived, and the
    publications not yet sent when the wait ended (handed to the `live` queue: late, not lost)."""
    from chats.models import Message, Publication
    from core.outbox import OutboxStatus

    created = dict(
        Message.objects.filter(chat_id__in=chat_ids, id__gt=since_id).values_list(
            "id", "created_at"
        )
    )
    listener.wait_for(len(created), timeout=15)
    latencies = [
        (t + offset - created[key].timestamp()) * 1000
        for _, key, t in listener.collect()
        if key in created
    ]
    return {
        "messages": len(created),
        "delivered": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "outbox_unsent": Publication.objects.exclude(status=OutboxStatus.SENT).count(),
    }


def last_message_id() -> int:
    from chats.models import Message

    return Message.objects.order_by("-id").values_list("id", flat=True).first() or 0


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> dict:
    """Start the stack, step every endpoint, profile a posting step; every process it starts
    goes on `stack`, so the caller stops it."""
    setup_django()
    from django.conf import settings

    from integrations import centrifugo
    from testing.production import ProductionStack

    data = make_data(args)
    prod = stack.enter_context(
        ProductionStack(
            None,
            web_workers=args.web_workers,
            WRITE_RATE_LIMIT="",
            AUTH_RATE_LIMIT="",
            **({"GUNICORN_CMD_ARGS": args.gunicorn_args} if args.gunicorn_args else {}),
        )
    )
    # The subscribers' tokens are signed with the stack's secret, read per call.
    settings.CENTRIFUGO_TOKEN_HMAC_SECRET_KEY = prod.env["CENTRIFUGO_TOKEN_HMAC_SECRET_KEY"]
    gunicorn = gunicorn_settings(prod)
    tokens = fetch_tokens(
        prod.url, prod.ca_file, [u.username for u in data["users"]], data["password"]
    )
    chat_ids = [chat.pk for chat in data["chats"]]
    files = request_files(workdir, tokens, chat_ids, data["read_chat"].pk)

    specs = [
        client_spec(data["listener"].pk, [("post", centrifugo.chat_channel(chat_id))])
        for chat_id in chat_ids
    ]
    os.environ["SSL_CERT_FILE"] = str(prod.ca_file)  # the spawned subscribers trust the local CA
    ws_url = prod.env["CENTRIFUGO_WS_URL"]
    listener = stack.enter_context(Listener(ws_url, specs))
    offset = time.time() - time.monotonic()  # the listener stamps arrivals with monotonic time
    meter = CpuMeter({os.getpid(), listener.process.pid})

    print(
        f"capacity over TLS ({prod.url}): {', '.join(args.endpoints)}; connections "
        f"{args.connections}, {args.duration:g} s a step; p99 bound {args.p99_ms:g} ms; "
        f"{args.users} users x {args.chats} chats posting; subscribers over {ws_url}"
    )
    print(f"gunicorn: {describe_gunicorn(gunicorn)}")
    for endpoint in args.endpoints:  # warm-up, discarded: connections, imports, first queries
        run_wrk(prod.url, files[endpoint], 4, 2, args.wrk_threads)
    listener.wait_for(10**9, timeout=5, quiet=1)
    listener.collect()

    steps: list[dict] = []
    stopped: set[str] = set()
    log = RestartCounter(prod.web.log_path)
    for connections in args.connections:
        for endpoint in args.endpoints:
            # A step past the bound is tried again (--tries in all): on a shared machine one
            # burst of other work, or the workers recycling together, should not end a climb.
            for attempt in range(1, args.tries + 1):
                if endpoint in stopped:
                    break
                since = last_message_id() if endpoint == "post" else 0
                listener.collect()
                before, restarts = meter.snapshot(), log.count()
                wrk = run_wrk(
                    prod.url, files[endpoint], connections, args.duration, args.wrk_threads
                )
                after = meter.snapshot()
                row = step_row(endpoint, connections, wrk, args.p99_ms)
                row["try"] = attempt
                row["worker_restarts"] = log.count() - restarts
                row["cpu_cores"] = meter.cores(before, after, wrk["cpu_s"])
                if endpoint == "post":
                    row["live"] = live_latency(listener, since, chat_ids, offset)
                steps.append(row)
                print(format_step(row), flush=True)
                if row["within_bound"]:
                    break
                if attempt == args.tries:
                    stopped.add(endpoint)
        if stopped >= set(args.endpoints):
            break

    summary = {endpoint: summarize(endpoint, steps) for endpoint in args.endpoints}
    profile = {}
    if "post" in args.endpoints:
        best = summary["post"]["best"]
        at = best["connections"] if best else args.connections[0]
        profile = profile_posting(
            args, prod, files["post"], at, workdir, listener, chat_ids, offset, meter
        )
    floor, post = (summary.get(k, {}).get("best") for k in ("floor", "post"))
    ratio = post["rps"] / floor["rps"] if floor and post else None
    results = {
        "endpoints": {k: ENDPOINTS[k] for k in args.endpoints},
        "connections": args.connections,
        "duration_s": args.duration,
        "p99_bound_ms": args.p99_ms,
        "wrk_threads": args.wrk_threads,
        "users": args.users,
        "chats": args.chats,
        "read_messages": args.read_messages,
        "code": code_version(),
        "machine": {
            "cores": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            # how shared the machine was: cores busy outside this run, on average over the steps
            "other_cores_mean": sum(r["cpu_cores"]["other"] for r in steps) / max(1, len(steps)),
        },
        "gunicorn": gunicorn,
        "steps": steps,
        "summary": summary,
        "goal": {
            "post_over_floor": ratio,
            "goal": GOAL,
            "met": ratio is not None and ratio >= GOAL,
            "live_at_best_post": post["live"] if post else None,
        },
        "profile": profile,
    }
    report(results)
    return results


def code_version() -> str:
    """The commit measured (git describe; "-dirty": the shared tree had changes besides)."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def summarize(endpoint: str, steps: list[dict]) -> dict:
    """An endpoint's best step within the bound and its first step past it (None if none)."""
    rows = [row for row in steps if row["endpoint"] == endpoint]
    within = [row for row in rows if row["within_bound"]]
    best = max(within, key=lambda row: row["rps"], default=None)
    passed = {row["connections"] for row in within}
    # the last try at the first connections where no try passed
    failed = [r["connections"] for r in rows if r["connections"] not in passed]
    limit = [r for r in rows if r["connections"] == failed[0]][-1] if failed else None
    keys = ("connections", "try", "rps", "p50_ms", "p99_ms", "errors", "worker_restarts", "live")
    pick = lambda row: {k: row[k] for k in keys if k in row} if row else None  # noqa: E731
    return {"best": pick(best), "limit": pick(limit)}


def gunicorn_settings(prod: Any) -> dict:
    """The settings gunicorn ran with: launchers/gunicorn_conf.py read in the web's environment,
    and the workers actually running under its master."""
    code = (
        "import json, launchers.gunicorn_conf as c;"
        "print(json.dumps({k: getattr(c, k, None) for k in ('workers', 'threads', 'worker_class',"
        " 'keepalive', 'timeout', 'max_requests', 'max_requests_jitter', 'raw_env')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=prod.web.env,
        capture_output=True,
        text=True,
        check=True,
    )
    conf = json.loads(done.stdout)
    conf["gunicorn_cmd_args"] = prod.web.env.get("GUNICORN_CMD_ARGS", "")
    conf["worker_class"] = conf["worker_class"] or ("gthread" if conf["threads"] > 1 else "sync")
    conf["database_conn_max_age"] = next(
        (
            int(v.split("=", 1)[1])
            for v in conf.pop("raw_env")
            if v.startswith("DATABASE_CONN_MAX_AGE=")
        ),
        None,
    )
    master = prod.web.proc.pid
    conf["workers_running"] = sum(
        1
        for entry in os.listdir("/proc")
        if entry.isdigit() and (stat := CpuMeter._stat(entry)) and stat[1] == master
    )
    return conf


def describe_gunicorn(conf: dict) -> str:
    return (
        f"{conf['workers']} workers ({conf['workers_running']} running) x {conf['threads']} "
        f"thread, {conf['worker_class']}; database connections kept "
        f"{conf['database_conn_max_age']} s;"
        f" keepalive {conf['keepalive']} s; max_requests {conf['max_requests']}"
        f" (+{conf['max_requests_jitter']} jitter); behind nginx (TLS, keepalive 32 upstream)"
        + (
            f"; overridden: GUNICORN_CMD_ARGS={conf['gunicorn_cmd_args']!r}"
            if conf.get("gunicorn_cmd_args")
            else ""
        )
    )


# --- the profile ------------------------------------------------------------------------------


def profile_posting(
    args: argparse.Namespace,
    prod: Any,
    requests_file: Path,
    connections: int,
    workdir: Path,
    listener: Listener,
    chat_ids: list[int],
    offset: float,
    meter: CpuMeter,
) -> dict:
    """One more posting step at `connections` with py-spy sampling the gunicorn master and its
    workers (only samples holding the GIL: where the CPU goes); its figures are slowed by the
    sampling, so they are reported apart."""
    duration = args.profile_duration or args.duration
    raw = workdir / "post.pyspy.txt"
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    argv = [spy, "record", "--gil", "--subprocesses", "-p", str(prod.web.proc.pid)]
    argv += ["--format", "raw", "-o", str(raw), "-d", str(int(duration + 2))]
    since = last_message_id()
    listener.collect()
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as spy_proc:
        time.sleep(1)  # attached to every worker
        before = meter.snapshot()
        wrk = run_wrk(prod.url, requests_file, connections, duration, args.wrk_threads)
        after = meter.snapshot()
        out, _ = spy_proc.communicate(timeout=duration + 60)
    row = step_row("post", connections, wrk, args.p99_ms)
    row["cpu_cores"] = meter.cores(before, after, wrk["cpu_s"])
    row["live"] = live_latency(listener, since, chat_ids, offset)
    if not raw.is_file():
        return {"error": f"py-spy wrote no profile: {out[-2000:]}", "step": row}
    table = aggregate(raw.read_text(), args.top)
    return {"step": row, "raw": raw.read_text(), "command": " ".join(argv[1:]), **table}


def frame_name(frame: str) -> str:
    """'func (path/to/module.py:12)' -> 'func (package/module.py)': site-packages and the
    project's root cut off, line numbers dropped (one row per function)."""
    match = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    func, path = match.groups()
    for marker in ("site-packages/", "/lib/python3", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib/python3"):
                path = "stdlib/" + path.split("/", 1)[-1]
    return f"{func} ({path})"


def package_of(name: str) -> str:
    """The package a frame's file belongs to: 'django/db', 'psycopg', 'chats', 'stdlib/json'."""
    path = name[name.rfind("(") + 1 : -1]
    parts = path.split("/")
    if parts[0] in ("django", "stdlib", "rest_framework") and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py")


def aggregate(raw: str, top: int) -> dict:
    """py-spy's raw (collapsed) stacks -> inclusive % by function and self % by package, of the
    samples under gunicorn's request handler; and the handler's share of all samples taken."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = handled = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        start = next((i for i, f in enumerate(frames) if HANDLER.match(f)), None)
        if start is None:
            continue
        handled += samples
        names = [frame_name(f) for f in frames[start:]]
        for name in set(names):
            inclusive[name] += samples
        own[package_of(names[-1])] += samples
    pct = lambda n: 100 * n / handled if handled else float("nan")  # noqa: E731
    # Frames in (nearly) every sample, the handler, Django's middleware chain and the view's
    # dispatch, crowd the table and say little: listed apart (the self % shows their own cost).
    wrappers = sorted(f for f, n in inclusive.items() if n >= 0.9 * handled)
    rest = Counter({f: n for f, n in inclusive.items() if f not in wrappers})
    return {
        "samples": total,
        "samples_in_handler": handled,
        "handler_share_pct": 100 * handled / total if total else float("nan"),
        "frames_over_90pct": wrappers,
        "inclusive": [{"function": f, "pct": pct(n)} for f, n in rest.most_common(top)],
        "self_by_package": [{"package": p, "pct": pct(n)} for p, n in own.most_common(20)],
    }


# --- output -----------------------------------------------------------------------------------


def format_step(row: dict) -> str:
    cpu = row["cpu_cores"]
    text = (
        f"{row['endpoint']:8} c={row['connections']:<3} {row['rps']:8.1f} req/s  p50 "
        f"{row['p50_ms']:7.1f}  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']:<5} "
        f"{'ok' if row['within_bound'] else 'OVER':4}  cores: web {cpu['web']:.2f} nginx "
        f"{cpu['nginx']:.2f} pg {cpu['postgres']:.2f} wrk {cpu['wrk']:.2f} other "
        f"{cpu['other']:.2f} (busy {cpu['machine_busy']:.2f})"
    )
    if row.get("worker_restarts"):
        text += f"  {row['worker_restarts']} workers recycled"
    if live := row.get("live"):
        text += (
            f"  live p50 {live['p50_ms']:.1f} p99 {live['p99_ms']:.1f} ms "
            f"({live['delivered']}/{live['messages']}"
            + (f", {live['outbox_unsent']} unsent" if live.get("outbox_unsent") else "")
            + ")"
        )
    return text


def summary_rows(results: dict) -> list[list[str]]:
    floor = (results["summary"].get("floor") or {}).get("best")
    rows = []
    for endpoint, label in results["endpoints"].items():
        best, limit = (results["summary"][endpoint][k] for k in ("best", "limit"))
        share = f"{best['rps'] / floor['rps']:.2f}" if best and floor else "-"
        rows.append(
            [
                label,
                f"{best['rps']:.1f}" if best else "none",
                str(best["connections"]) if best else "-",
                f"{best['p99_ms']:.1f}" if best else "-",
                share,
                (
                    f"c={limit['connections']}: {limit['rps']:.1f} req/s, p99 "
                    f"{limit['p99_ms']:.1f} ms, {limit['errors']} errors"
                )
                if limit
                else f"not reached (c <= {results['connections'][-1]})",
            ]
        )
    return rows


SUMMARY_HEAD = ["endpoint", "best req/s", "conns", "p99 ms", "/ floor", "first step past the bound"]


def report(results: dict) -> None:
    """Print the summary table, the goal line with the live latency, and the profile."""
    bound = results["p99_bound_ms"]
    print(f"\nbest requests a second with p99 <= {bound:g} ms and no errors, over TLS:")
    widths = [44, 10, 5, 7, 7, 50]
    print("  ".join(h.ljust(w) for h, w in zip(SUMMARY_HEAD, widths, strict=True)))
    for row in summary_rows(results):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(goal_line(results))
    print(f"gunicorn: {describe_gunicorn(results['gunicorn'])}")
    print(machine_line(results))
    profile = results["profile"]
    if "inclusive" in profile:
        print(profile_text(profile))
    elif profile:
        print(profile.get("error"))


def goal_line(results: dict) -> str:
    goal = results["goal"]
    if goal["post_over_floor"] is not None:
        live = goal["live_at_best_post"]
        verdict = "met" if goal["met"] else "NOT met"
        return (
            f"goal: posting / floor = {goal['post_over_floor']:.2f} (>= {GOAL:g}: {verdict}); "
            f"live delivery at that rate (created_at -> subscriber): p50 {live['p50_ms']:.1f} "
            f"ms, p99 {live['p99_ms']:.1f} ms, {live['delivered']}/{live['messages']} delivered"
        )
    floor = (results["summary"].get("floor") or {}).get("best")
    post = (results["summary"].get("post") or {}).get("limit")
    if not floor or not post:
        return f"goal (posting >= {GOAL:g} x the floor): NOT met: no step within the bound"
    live = post["live"]
    return (
        f"goal: NOT met: no posting step within the bound; its lowest, c={post['connections']}: "
        f"{post['rps']:.1f} req/s (p99 {post['p99_ms']:.1f} ms) = {post['rps'] / floor['rps']:.2f}"
        f" of the floor's best; live delivery there: p50 {live['p50_ms']:.1f} ms, p99 "
        f"{live['p99_ms']:.1f} ms, {live['delivered']}/{live['messages']} delivered"
    )


def machine_line(results: dict) -> str:
    machine = results["machine"]
    return (
        f"code {results['code']}; machine: {machine['cores']} cores, shared: other work used "
        f"{machine['other_cores_mean']:.2f} cores on average during the steps (column other)"
    )


def profile_text(profile: dict) -> str:
    step = profile["step"]
    lines = [
        f"\nprofile of posting at c={step['connections']} (py-spy {profile['command']}): "
        f"{step['rps']:.1f} req/s while sampled, p99 {step['p99_ms']:.1f} ms; "
        f"{profile['samples_in_handler']} of {profile['samples']} GIL-holding samples in the "
        f"request handler ({profile['handler_share_pct']:.0f} %)",
        f"{'inclusive %':>11}  function (under gunicorn's handle_request; the "
        f"{len(profile['frames_over_90pct'])} frames in over 90 % of samples, the handler, "
        "middleware and dispatch, left out)",
    ]
    lines += [f"{row['pct']:11.1f}  {row['function']}" for row in profile["inclusive"]]
    lines.append(f"{'self %':>11}  package (where the samples' innermost frame is)")
    lines += [f"{row['pct']:11.1f}  {row['package']}" for row in profile["self_by_package"]]
    return "\n".join(lines)


def render_markdown(results: dict) -> str:
    """The figures as markdown: summary, every step, the goal, the settings, the profile."""

    def table(head: list[str], rows: list[list[str]]) -> list[str]:
        return [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]

    bound = results["p99_bound_ms"]
    out = [
        "# Capacity over TLS (bench/bench_capacity.py)",
        "",
        f"wrk {results['wrk_threads']} thread(s), closed loop, {results['duration_s']:g} s a step, "
        f"connections {results['connections']}; bound: p99 <= {bound:g} ms, no errors.",
        "",
        f"gunicorn: {describe_gunicorn(results['gunicorn'])}",
        "",
        machine_line(results),
        "",
        *table(SUMMARY_HEAD, summary_rows(results)),
        "",
        goal_line(results),
        "",
        "## Every step",
        "",
    ]
    head = ["endpoint", "conns", "try", "req/s", "p50 ms", "p99 ms", "errors", "bound"]
    head += ["recycled", "cores web", "nginx", "pg", "wrk", "other", "busy"]
    head += ["live p50 ms", "live p99 ms", "delivered"]
    rows = []
    for row in results["steps"]:
        cpu, live = row["cpu_cores"], row.get("live")
        rows.append(
            [
                row["endpoint"],
                str(row["connections"]),
                str(row["try"]),
                f"{row['rps']:.1f}",
                f"{row['p50_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
                str(row["errors"]),
                "ok" if row["within_bound"] else "over",
                str(row["worker_restarts"]),
                *(
                    f"{cpu[k]:.2f}"
                    for k in ("web", "nginx", "postgres", "wrk", "other", "machine_busy")
                ),
                f"{live['p50_ms']:.1f}" if live else "",
                f"{live['p99_ms']:.1f}" if live else "",
                f"{live['delivered']}/{live['messages']}" if live else "",
            ]
        )
    out += table(head, rows)
    profile = results["profile"]
    if "inclusive" in profile:
        out += ["", "## Profile of the post path", "", "```", profile_text(profile).strip(), "```"]
        if profile.get("raw_file"):
            out += ["", f"Raw py-spy stacks: {profile['raw_file']}"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()

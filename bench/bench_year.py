"""A year of traffic: does every periodic job, and every first page, cost the same after it?

For each size (1,000,000 and 10,000,000 messages by default), on its own throwaway PostgreSQL
database, bulk-load (COPY, bench.traffic) a year of history: users, chats, memberships and their
events, the messages, and the outbox rows they left (two sent publications per message, one email
per admin per join or leave, a few failed, a flood a day folded into a digest), the refusal rows,
and what is in flight now. The windows the jobs read carry the same traffic at every size; only
the history between them grows (bench/traffic.py says why). Then time, at each size:

- the live snapshot (metrics.snapshot.compute_snapshot) and one /metrics scrape (from Redis);
- the statistics fill after 10,000 new messages, and with nothing new (metrics.fill);
- the naive pandas pass over every message (bench.history.naive_pandas);
- the report job (metrics.jobs.run_report) in a child process: time and peak memory;
- one outbox sweep (chats.tasks.requeue_stale_outbox_task, into a real Redis broker);
- one digest run (chats.emails.digest.build_digests);
- one retention run over a day of expired rows (metrics.retention.prune);
- the first page of /api/chats/, /api/chats/<id>/members/ and /api/chats/<id>/messages/ as a
  user in a quarter of the chats, of the biggest and busiest one.

Quick figures are the median of --repeat runs (the sweep, the digest and the retention each get
the same work again: their rows are put back, or the next day is pruned). Then, per query of the
snapshot and of the fill with nothing new, the rows it read (EXPLAIN ANALYZE) at each size: a
query whose rows grow with the size scans history. Printed as ratios of the largest size to the
smallest with their goals (each within x1.2; the fill with nothing new under 50 ms; the naive
pass at least 100x the incremental fill); JSON goes to bench/results/.

    .venv/bin/python -m bench.bench_year                           # 1M and 10M messages
    .venv/bin/python -m bench.bench_year --quick                   # 100k and 1M
    .venv/bin/python -m bench.bench_year --sizes 2000,20000 --new 200 --repeat 2   # tiny
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, add_common_args, fresh_postgres, setup_django, write_results
from bench.history import naive_pandas, timed

QUICK_SIZES = "100000,1000000"
FLAT = 1.2  # the goal: a figure at the largest size within this factor of the smallest
NOOP_GOAL_S = 0.05
NAIVE_GOAL = 100.0
# Figures with the flat goal, in print order: (key, what, unit).
FIGURES = [
    ("snapshot_s", "live snapshot (compute_snapshot)", "ms"),
    ("scrape_s", "one /metrics scrape", "ms"),
    ("fill_new_s", "fill after the new messages", "ms"),
    ("fill_noop_s", "fill with nothing new", "ms"),
    ("report_s", "report job (run_report)", "s"),
    ("report_peak_mb", "report job: peak memory (RSS)", "MB"),
    ("sweep_s", "outbox sweep (both outboxes)", "ms"),
    ("digest_s", "digest run (build_digests)", "ms"),
    ("retention_s", "retention run over a day", "ms"),
    ("api_chats_s", "GET /api/chats/ (first page)", "ms"),
    ("api_members_s", "GET /api/chats/<id>/members/", "ms"),
    ("api_messages_s", "GET /api/chats/<id>/messages/", "ms"),
]
# Figures shown without a goal.
OTHERS = [
    ("load_s", "bulk load (COPY, indexes, VACUUM)", "s"),
    ("first_fill_s", "first fill (the whole year)", "s"),
    ("naive_s", "naive: every message into pandas", "s"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000000,10000000",
        help="messages of history, comma-separated; the ratios are largest / smallest",
    )
    parser.add_argument("--quick", action="store_true", help=f"--sizes {QUICK_SIZES}")
    parser.add_argument("--new", type=int, default=10_000, help="new messages before the fill")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each quick figure")
    parser.add_argument("--seed", type=int, default=42)
    add_common_args(
        parser,
        "PostgreSQL server to create the throwaway databases on (COPY needs PostgreSQL; "
        "default: the one scripts/postgres.sh starts)",
    )
    # One size, in a child process of its own (a clean process and database per size).
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    # The report job, in a grandchild: its time and peak memory alone.
    parser.add_argument("--measure-report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.sizes = QUICK_SIZES
    try:
        args.sizes = sorted({int(size) for size in args.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error(f"--sizes must be whole numbers, comma-separated: {args.sizes}")
    if not args.sizes or min(args.sizes) < 1000:
        parser.error("--sizes: at least one size, each of at least 1000 messages")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.database_url and not args.database_url.startswith("postgres"):
        parser.error(f"--database-url must be PostgreSQL (COPY), not {args.database_url}")
    return args


def median_of(
    repeat: int,
    func: Callable[[], Any],
    reset: Callable[[], Any] | None = None,
    warm_up: bool = True,
) -> float:
    """The median wall time of `repeat` runs of func, after one untimed warm-up run (then
    reset); `reset` puts back, untimed, what a run changed."""
    if warm_up:
        func()
        if reset is not None:
            reset()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
        if reset is not None:
            reset()
    return statistics.median(times)


def show(label: str, seconds: float, unit: str = "ms") -> None:
    value = f"{seconds * 1000:9.1f} ms" if unit == "ms" else f"{seconds:9.2f} s "
    print(f"  {label:<48} {value}", flush=True)


# --- one size ----------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries
    that across exec, so a child started by a process that loaded millions of rows would report
    its parent's peak."""
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure_report(reports_dir: str) -> None:
    """In a process of its own (the environment names the database and Redis): run the report
    job once for its time and peak memory, then again for its queries (bench.queries); print
    all as JSON, the last line."""
    import django

    django.setup()
    from bench import queries
    from metrics.jobs import run_report

    before = peak_rss_mb()
    started = time.perf_counter()
    run = run_report(reports_dir=reports_dir)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    result = {
        "seconds": seconds,
        "peak_mb": peak,
        "before_mb": before,
        "written": run is not None,
        "profile": queries.profile(lambda: run_report(reports_dir=reports_dir)),
    }
    print(json.dumps(result))


def report_in_child(reports_dir: str) -> dict[str, Any]:
    """measure_report in a child process (a clean heap: the peak is the report job's)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_year", "--measure-report", reports_dir],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the report child failed:\n{out.stdout}\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["written"]:
        raise RuntimeError("the report job did not run (its lock was held)")
    return result


def database_bytes() -> int:
    """The measured database's size on disk."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def table_bytes() -> dict[str, int]:
    """The largest tables' sizes, indexes and TOAST included, largest first."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            " ORDER BY 2 DESC LIMIT 12"
        )
        return dict(cursor.fetchall())


def retention_prune() -> Callable[..., dict[str, int]] | None:
    """metrics.retention.prune, or None on a tree without it (the figure says not available)."""
    try:
        from metrics.retention import prune
    except ImportError:
        return None
    return prune


def run_size(args: argparse.Namespace) -> dict[str, Any]:
    """Load one size and measure it; the caller writes the JSON for the parent."""
    size, base = args.one_size, args.base or args.one_size
    base_url = args.database_url
    url, drop_database = fresh_postgres(base_url, f"bench_year_{size}")
    import testing

    redis = testing.RedisProcess().start()
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="chatplatform.settings",
        LOG_LEVEL="WARNING",
        REDIS_URL=redis.url,
        CELERY_BROKER_URL=redis.url,
        # Nothing listens there: the snapshot's online count fails fast, the same at each size.
        CENTRIFUGO_API_URL=f"http://127.0.0.1:{testing.free_port()}/api",
    )
    try:
        setup_django()
        return measure(size, base, args)
    finally:
        redis.stop()
        drop_database()


def measure(size: int, base: int, args: argparse.Namespace) -> dict[str, Any]:
    """Load a year of `size` messages (windows at the traffic of `base`) and time every job;
    then run each once more under bench.queries.profile."""
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from bench import queries, traffic
    from chats import services
    from chats.emails import digest
    from chats.models import Notification, Publication
    from chats.tasks import requeue_stale_outbox_task
    from metrics import fill, snapshot

    measured = tree()  # as the modules were imported
    rng = np.random.default_rng(args.seed)
    now = timezone.now()
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    if end.hour == 23:  # the new messages' hour inside one UTC day, as in bench_stats
        end -= timedelta(hours=1)
    year = traffic.Year(messages=size, base=base, end=end)
    figures: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    print(
        f"bench_year: {size:,} messages over {year.days} days ({year.users:,} users, "
        f"{year.chats:,} chats); windows at the traffic of {base:,}",
        flush=True,
    )

    def job(
        key: str,
        label: str,
        func: Callable[[], Any],
        reset: Callable[[], Any] | None = None,
        warm_up: bool = True,
        repeat: int = args.repeat,
    ) -> None:
        """Time `func` (median of `repeat`), then profile one more run; `reset` after each."""
        figures[key] = median_of(repeat, func, reset, warm_up)
        show(label, figures[key])
        profiles[key] = queries.profile(func)
        if reset is not None:
            reset()

    figures["load_s"], rows = timed(
        "bulk load (COPY, indexes, VACUUM)", traffic.load_year, year, rng, now
    )
    details["rows"] = rows
    print(f"  rows: {', '.join(f'{k} {v:,}' for k, v in rows.items())}", flush=True)
    details["database_bytes"] = database_bytes()
    print(f"  database size: {details['database_bytes'] / 2**30:.2f} GiB", flush=True)

    figures["first_fill_s"], _ = timed(
        "first fill (the whole year)", fill.fill_activity_counts, until=end
    )
    # The statistics tables it wrote, vacuumed now rather than by autovacuum during the
    # measurements (a year-old platform's were vacuumed long ago).
    details["vacuum_after_fill_s"], _ = timed("VACUUM (ANALYZE) after it", traffic.vacuum_analyze)

    # The snapshot and the scrape, as beat and Prometheus run them.
    job("snapshot_s", "live snapshot (compute_snapshot)", snapshot.compute_snapshot)
    snapshot.refresh_snapshot()
    scraper = Client(
        HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_BEARER_TOKEN}"
    )
    response = scraper.get("/metrics")
    assert response.status_code == 200, response.status_code
    job("scrape_s", "one /metrics scrape", lambda: scraper.get("/metrics"))

    # The first page of each list endpoint, as user 0: in a quarter of the chats, among them
    # chat 1, the biggest (a twentieth of the users) and busiest.
    api = Client(HTTP_AUTHORIZATION=f"Token {services.issue_token(user_id=1)}")
    pages = {
        "api_chats_s": "/api/chats/",
        "api_members_s": "/api/chats/1/members/",
        "api_messages_s": "/api/chats/1/messages/",
    }
    details["api_items"] = {}
    for key, path in pages.items():
        response = api.get(path)
        assert response.status_code == 200, (path, response.status_code)
        body = response.json()
        items = len(body["results"] if isinstance(body, dict) else body)
        details["api_items"][path] = items
        job(key, f"GET {path} ({items:,} items)", lambda path=path: api.get(path))

    # One sweep: the stale rows are queued (into Redis) and touched; put back for the next run.
    stale_at = now - timedelta(minutes=10)
    stale = {
        model: list(model.objects.filter(status="pending").values_list("pk", flat=True))
        for model in (Notification, Publication)
    }

    def unsweep() -> None:
        for model, ids in stale.items():
            model.objects.filter(pk__in=ids).update(updated_at=stale_at)

    details["swept"] = requeue_stale_outbox_task()
    unsweep()
    queued = sum(details["swept"].values())
    job("sweep_s", f"outbox sweep ({queued} stale rows queued)", requeue_stale_outbox_task, unsweep)

    # One digest run: the held emails folded; put back (held again, the digests deleted).
    held = list(Notification.objects.filter(status=Notification.HELD).values_list("pk", flat=True))
    held_at = Notification.objects.filter(pk__in=held).values_list("updated_at", flat=True).first()
    built: list[int] = []

    def run_digests() -> None:
        built.extend(digest.build_digests())

    def undigest() -> None:
        Notification.objects.filter(pk__in=held).update(
            status=Notification.HELD, digest=None, done_at=None, updated_at=held_at
        )
        Notification.objects.filter(pk__in=built).delete()
        built.clear()

    run_digests()
    details["digests"] = len(built)
    undigest()
    job(
        "digest_s",
        f"digest run ({details['digests']} digests of {len(held)} held)",
        run_digests,
        undigest,
    )

    # The fill after --new messages in the hour after the history, each run from the same state:
    # filled to the hour's start, its partial rows written (as beat's fill a minute before).
    new_end = end + timedelta(hours=1)
    traffic.add_messages(year, args.new, end, new_end, rng)
    job(
        "fill_new_s",
        f"fill after {args.new:,} new messages",
        lambda: fill.fill_activity_counts(until=new_end),
        reset=lambda: fill.rebuild_activity_counts(since=end, until=end),
        warm_up=False,
    )
    job("fill_noop_s", "fill with nothing new", lambda: fill.fill_activity_counts(until=new_end))

    figures["naive_s"], naive = timed(
        f"naive: {size + args.new:,} messages into pandas", naive_pandas, new_end
    )
    details["naive"] = naive

    with tempfile.TemporaryDirectory() as reports_dir:
        report = report_in_child(reports_dir)
    figures["report_s"], figures["report_peak_mb"] = report["seconds"], report["peak_mb"]
    details["report_before_mb"] = report["before_mb"]
    profiles["report_s"] = report["profile"]
    show("report job (run_report, own process)", report["seconds"], "s")
    print(
        f"  {'report job: peak memory (VmHWM; before it ran)':<48} {report['peak_mb']:9.1f} MB"
        f" ({report['before_mb']:.0f} MB)",
        flush=True,
    )

    # Retention over one day of expired rows: a `now` at which only the first day of history is
    # past RETENTION_SENT_DAYS; each run the next day (the first days: the same traffic at every
    # size), the profiled run too.
    prune = retention_prune()
    if prune is None:
        figures["retention_s"] = None
        print(f"  {'retention run over a day':<48} not available (no metrics.retention)")
    else:
        kept = timedelta(days=settings.RETENTION_SENT_DAYS)
        days = iter(range(1, year.edge_days + 1))
        deleted: list[dict[str, int]] = []
        job(
            "retention_s",
            "retention run over a day",
            lambda: deleted.append(prune(now=year.start + kept + timedelta(days=next(days)))),
            warm_up=False,
            repeat=min(args.repeat, year.edge_days - 1),
        )
        details["retention_deleted"] = deleted
        print(f"  ({statistics.median(sum(d.values()) for d in deleted):,.0f} rows a run)")

    details["profile"] = profiles
    # What a year takes on disk, per table (indexes and TOAST included), statistics filled and
    # no retention yet (a week of it): the base of the disk under the retention settings.
    details["table_bytes"] = table_bytes()
    biggest = list(details["table_bytes"].items())[:6]
    print(f"  tables: {', '.join(f'{t} {b / 2**20:,.0f} MiB' for t, b in biggest)}", flush=True)
    return {
        "size": size,
        "tree": measured,
        "base": base,
        "users": year.users,
        "chats": year.chats,
        "figures": figures,
        "details": details,
    }


# --- every size --------------------------------------------------------------------------------


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def ratios_and_goals(runs: list[dict]) -> tuple[dict, dict]:
    """Largest / smallest for each figure, and whether each goal is met."""
    first, last = runs[0]["figures"], runs[-1]["figures"]
    ratios: dict[str, float | None] = {}
    goals: dict[str, dict[str, Any]] = {}
    for key, _, _ in FIGURES + OTHERS:
        ok = finite(first.get(key)) and finite(last.get(key)) and first[key] > 0
        ratios[key] = last[key] / first[key] if ok else None
    for key, _, _ in FIGURES:
        met = ratios[key] is not None and ratios[key] <= FLAT
        goals[key] = {"goal": f"largest / smallest <= {FLAT}", "met": met}
    for run in runs:
        size, figures = run["size"], run["figures"]
        noop = figures["fill_noop_s"]
        goals[f"fill_noop_s at {size}"] = {"goal": f"< {NOOP_GOAL_S} s", "met": noop < NOOP_GOAL_S}
        times = figures["naive_s"] / figures["fill_new_s"]
        ratios[f"naive / fill_new at {size}"] = times
        goals[f"naive / fill_new at {size}"] = {
            "goal": f">= {NAIVE_GOAL}",
            "met": times >= NAIVE_GOAL,
        }
    return ratios, goals


def fmt(value: float | None, unit: str) -> str:
    if not finite(value):
        return "n/a"
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.2f} s"


def print_table(runs: list[dict], ratios: dict, goals: dict) -> None:
    sizes = [f"{run['size']:,}" for run in runs]
    print(f"\n{'figure':<40}" + "".join(f"{s:>14}" for s in sizes) + f"{'ratio':>9}  goal")
    for key, what, unit in FIGURES + OTHERS:
        cells = "".join(f"{fmt(run['figures'].get(key), unit):>14}" for run in runs)
        ratio = ratios[key]
        verdict = ""
        if key in goals:
            verdict = f"<= {FLAT}: {'met' if goals[key]['met'] else 'MISSED'}"
        ratio_text = f"x{ratio:.2f}" if ratio is not None else "n/a"
        print(f"{what:<40}{cells}{ratio_text:>9}  {verdict}")
    for run in runs:
        size = run["size"]
        noop = goals[f"fill_noop_s at {size}"]["met"]
        naive = ratios[f"naive / fill_new at {size}"]
        naive_met = goals[f"naive / fill_new at {size}"]["met"]
        print(
            f"at {size:,}: fill with nothing new {fmt(run['figures']['fill_noop_s'], 'ms')} "
            f"(< {NOOP_GOAL_S * 1000:.0f} ms: {'met' if noop else 'MISSED'}); naive / fill after "
            f"new = {naive:.0f}x (>= {NAIVE_GOAL:.0f}x: {'met' if naive_met else 'MISSED'})"
        )


GROWS = 1.5  # rows read at the largest size / the smallest: the query reads history
MANY_ROWS = 10_000  # or this many rows read at the largest size, growing or not


def history_readers(runs: list[dict], job: str) -> list[dict]:
    """The queries of `job` that read history: their rows read grew by GROWS or more from the
    smallest size to the largest, or they read MANY_ROWS at the largest (matched by their SQL
    and its place among repeats of it), the most rows first, with their time at each size."""

    def keyed(run: dict) -> dict[tuple[str, int], dict]:
        seen: dict[str, int] = {}
        out = {}
        for query in run["details"]["profile"][job]["queries"]:
            n = seen.get(query["sql"], 0)
            seen[query["sql"]] = n + 1
            out[(query["sql"], n)] = query
        return out

    small, large = keyed(runs[0]), keyed(runs[-1])
    rows = []
    for key, big in large.items():
        if "rows_read" not in big:
            continue
        before = small.get(key, {})
        was = before.get("rows_read")
        grew = was is None or big["rows_read"] >= GROWS * max(was, 1) + 1000
        if not (grew or big["rows_read"] >= MANY_ROWS):
            continue
        rows.append(
            {
                "sql": " ".join(key[0].split()),
                "rows_read": [was, big["rows_read"]],
                "ms": [before["seconds"] * 1000 if before else None, big["seconds"] * 1000],
                "scans": [
                    f"{scan['node']} on {scan['relation'] or scan['index']}: {scan['rows_read']:,}"
                    for scan in big["scans"]
                    if scan["rows_read"]
                ],
            }
        )
    rows.sort(key=lambda r: r["rows_read"][1], reverse=True)
    return rows


def print_profile(runs: list[dict]) -> dict[str, list[dict]]:
    """Per job, its statements and their time in the database at each size, then the queries
    that read history (history_readers)."""
    readers = {}
    print("\nqueries (bench.queries: each statement EXPLAIN ANALYZEd; times of a warm re-run)")
    for key, what, _ in FIGURES:
        if not all(key in run["details"]["profile"] for run in runs):
            continue
        profiles = [run["details"]["profile"][key] for run in runs]
        sizes = ", ".join(
            f"{run['size']:,}: {len(p['queries'])} statements, {p['query_seconds'] * 1000:.1f} ms"
            for run, p in zip(runs, profiles, strict=True)
        )
        readers[key] = history_readers(runs, key)
        print(f"{what}: {sizes}")
        for row in readers[key]:
            was = "-" if row["rows_read"][0] is None else f"{row['rows_read'][0]:,}"
            ms = "-" if row["ms"][0] is None else f"{row['ms'][0]:.1f}"
            print(
                f"  reads {was} -> {row['rows_read'][1]:,} rows ({ms} -> {row['ms'][1]:.1f} ms):"
                f" {row['sql'][:160]}"
            )
            if row["scans"]:
                print(f"      {'; '.join(row['scans'])}")
    return readers


def git(*args: str) -> str:
    """A git answer about the tree measured ("" outside a repository)."""
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def tree() -> dict[str, Any]:
    """The tree measured: its commit, and the files changed since (a run measures the working
    tree, with whatever was not committed yet)."""
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted": git("status", "--porcelain", "--untracked-files=no").splitlines(),
    }


def run_all(args: argparse.Namespace) -> None:
    # scripts/bench.sh passes the URL; run alone, start PostgreSQL here (it prints only the URL).
    base_url = (
        args.database_url
        or subprocess.check_output([str(ROOT / "scripts" / "postgres.sh")], text=True).strip()
    )
    runs = []
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            out = Path(work) / f"{size}.json"
            command = [sys.executable, "-m", "bench.bench_year", "--one-size", str(size)]
            command += ["--base", str(args.sizes[0]), "--new", str(args.new)]
            command += ["--repeat", str(args.repeat), "--seed", str(args.seed)]
            command += ["--database-url", base_url, "--out", str(out)]
            subprocess.run(command, cwd=ROOT, check=True)
            runs.append(json.loads(out.read_text()))
    ratios, goals = ratios_and_goals(runs)
    if len({json.dumps(run["tree"]) for run in runs}) > 1:
        print("\nWARNING: the tree changed between the sizes (see each run's tree in the JSON)")
    print_table(runs, ratios, goals)
    readers = print_profile(runs)
    write_results(
        args.results,
        "year",
        {
            "sizes": args.sizes,
            "new": args.new,
            "repeat": args.repeat,
            "runs": runs,
            "ratios": ratios,
            "goals": goals,
            "history_readers": readers,
        },
    )


def main() -> None:
    args = parse_args()
    if args.measure_report:
        measure_report(args.measure_report)
    elif args.one_size:
        Path(args.out).write_text(json.dumps(run_size(args), default=str))
    else:
        run_all(args)


if __name__ == "__main__":
    main()

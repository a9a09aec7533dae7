"""Activity statistics at scale: full rebuild vs incremental fill vs the naive pandas way.

In a fresh PostgreSQL database (scripts/postgres.sh), bulk-loaded with COPY: users, chats with a
skewed activity, and N messages spread over D days of history. Measured in the same run:

- rebuild: every statistic from scratch (`rebuild_activity_counts`);
- incremental: the fill after 10,000 new messages in the next hour, with N messages of history
  (and, with --big, again after growing the history to 5,000,000);
- report: the report job (tables, charts, HTML) from the counts;
- snapshot + one /metrics scrape (the scrape reads the snapshot from a real Redis);
- naive: load every message into pandas and group (hourly totals, per chat, active users).

Printed as seconds and ratios (incremental / rebuild: the goal is under 5%, and flat as history
grows); JSON goes to bench/results/.

    .venv/bin/python -m bench.bench_stats                    # 1,000,000 messages over 90 days
    .venv/bin/python -m bench.bench_stats --big              # ... plus the 5,000,000 history run
    .venv/bin/python -m bench.bench_stats --messages 100000  # quick
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.common import (
    ROOT,
    add_common_args,
    fresh_postgres,
    setup_django,
    write_results,
)
from bench.history import load_messages, load_people, naive_pandas, timed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages of history")
    parser.add_argument("--days", type=int, default=90, help="days the history spans")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--chats", type=int, default=2_000)
    parser.add_argument("--new", type=int, default=10_000, help="new messages before incremental")
    parser.add_argument("--big", action="store_true", help="also grow the history to --big-size")
    parser.add_argument("--big-size", type=int, default=5_000_000)
    add_common_args(
        parser,
        "PostgreSQL server to create a throwaway database on (COPY needs PostgreSQL; "
        "default: the one scripts/postgres.sh starts)",
    )
    args = parser.parse_args()
    if args.database_url and not args.database_url.startswith("postgres"):
        parser.error(f"--database-url must be PostgreSQL (COPY), not {args.database_url}")
    return args


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    # scripts/bench.sh passes the URL; run alone, start PostgreSQL here (it prints only the URL).
    base_url = (
        args.database_url
        or subprocess.check_output([str(ROOT / "scripts" / "postgres.sh")], text=True).strip()
    )
    url, drop_database = fresh_postgres(base_url, "bench_stats")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import testing

    redis = testing.RedisProcess().start()
    try:
        os.environ["REDIS_URL"] = redis.url
        setup_django()
        from django.conf import settings
        from django.test import Client

        from metrics import fill, snapshot
        from metrics.reports.make import make_report

        rng = np.random.default_rng(42)

        def new_hour_then_fill(label: str, hour: datetime) -> tuple[float, datetime]:
            """Load --new messages into the hour from `hour`, then time the fill up to its end:
            the incremental work a beat tick does, on the history loaded so far."""
            end = hour + timedelta(hours=1)
            load_messages(args.new, hour, end, args.users, args.chats, rng)
            elapsed, _ = timed(label, fill.fill_activity_counts, until=end)
            return elapsed, end

        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        history_end = now - timedelta(hours=3)
        if history_end.hour == 23:  # keep the incremental hours inside one day (see docs)
            history_end -= timedelta(hours=1)
        history_start = history_end - timedelta(days=args.days)
        figures: dict[str, float] = {}
        sizes = {
            "messages": args.messages,
            "days": args.days,
            "users": args.users,
            "chats": args.chats,
        }
        print(
            f"bench_stats: {args.messages:,} messages over {args.days} days, PostgreSQL", flush=True
        )

        figures["load_s"], _ = timed(
            "bulk load (COPY) users, chats, messages",
            lambda: (
                load_people(args.users, args.chats, history_start, rng),
                load_messages(
                    args.messages, history_start, history_end, args.users, args.chats, rng
                ),
            ),
        )
        figures["rebuild_s"], _ = timed(
            f"full rebuild, {args.messages:,} messages",
            fill.rebuild_activity_counts,
            until=history_end,
        )
        figures["incremental_s"], next_hour = new_hour_then_fill(
            f"incremental after {args.new:,} new messages", history_end
        )
        figures["incremental_noop_s"], _ = timed(
            "incremental with nothing new", fill.fill_activity_counts, until=next_hour
        )
        with tempfile.TemporaryDirectory() as reports_dir:
            figures["report_s"], _ = timed(
                "report job (30 days: tables, charts, HTML)",
                make_report,
                now=next_hour,
                reports_dir=reports_dir,
            )
        figures["snapshot_s"], _ = timed("snapshot (beat, every 5 s)", snapshot.refresh_snapshot)
        # The configured token, as Prometheus sends it (none when METRICS_BEARER_TOKEN is empty).
        bearer = f"Bearer {settings.METRICS_BEARER_TOKEN}"
        client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=bearer)
        client.get("/metrics")  # warm up: imports, the URL resolver
        figures["scrape_s"], response = timed("one /metrics scrape", client.get, "/metrics")
        assert response.status_code == 200 and b"chatplatform_users" in response.content
        figures["naive_s"], naive = timed(
            f"naive: {args.messages:,} messages into pandas, grouped", naive_pandas, next_hour
        )
        if args.big:
            grow = args.big_size - args.messages - args.new
            figures["load_big_s"], _ = timed(
                f"bulk load {grow:,} more messages of history",
                load_messages,
                grow,
                history_start,
                history_end,
                args.users,
                args.chats,
                rng,
            )
            figures["rebuild_big_s"], _ = timed(
                f"full rebuild, {args.big_size:,} messages",
                fill.rebuild_activity_counts,
                until=next_hour,
            )
            figures["incremental_big_s"], next_hour = new_hour_then_fill(
                f"incremental after {args.new:,} new, {args.big_size:,} history", next_hour
            )
            figures["naive_big_s"], _ = timed(
                f"naive: {args.big_size:,} messages into pandas", naive_pandas, next_hour
            )
    finally:
        redis.stop()
        drop_database()

    ratios = {
        "incremental / rebuild": figures["incremental_s"] / figures["rebuild_s"],
        "naive / incremental": figures["naive_s"] / figures["incremental_s"],
        "naive / rebuild": figures["naive_s"] / figures["rebuild_s"],
        "report / naive": figures["report_s"] / figures["naive_s"],
        "scrape / naive": figures["scrape_s"] / figures["naive_s"],
    }
    if args.big:
        ratios["incremental 5M / incremental 1M"] = (
            figures["incremental_big_s"] / figures["incremental_s"]
        )
        ratios["incremental 5M / rebuild 5M"] = (
            figures["incremental_big_s"] / figures["rebuild_big_s"]
        )
        ratios["naive 5M / incremental 5M"] = figures["naive_big_s"] / figures["incremental_big_s"]
    print("ratios (same run):")
    for name, value in ratios.items():
        print(f"  {name:<44} {value:9.4f}")
    write_results(
        args.results,
        "stats",
        {"sizes": sizes, "figures": figures, "ratios": ratios, "naive": naive},
    )


if __name__ == "__main__":
    main()

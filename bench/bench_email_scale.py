"""Admin emails: throughput of one email worker replica against two, same run.

The worker groups scale by adding processes or replicas; this measures what a second replica of
the `email` group buys. On real services (Redis, an SMTP server in its own process that takes
--smtp-delay seconds per message and serves connections in parallel, the database of
--database-url), two workers of the group run as make up starts them (`python -m
launchers.workers email`: the group's concurrency and prefetch).

Each phase queues --joins joins (services.add_member into a chat with two admins: 2 x joins
emails) while neither replica consumes the `email` queue, checks they all wait in Redis, then
tells one replica, or both, to consume it (Celery's add_consumer: the start gun, so no process
start-up is timed) and times until the last email is in the inbox. Phases go one, two, two, one
(the single replica alternating) per --rounds, after a discarded warm-up, so drift and noise
show. The inbox must then hold every email of the phase exactly once (its Message-IDs are the
phase's rows, each once). Each phase also records how busy the machine's CPUs were.

The ceiling is replicas x concurrency / --smtp-delay: every process waiting on the SMTP server
all the time. --pool-one-joins repeats the phases with one process per replica, so the ratio is
about replicas, not pool size (0: skip). Defaults: 240 emails a phase at the group's
concurrency, 40 at one process: about 2 minutes on PostgreSQL.

    .venv/bin/python -m bench.bench_email_scale --database-url "$(scripts/postgres.sh)"
    .venv/bin/python -m bench.bench_email_scale --joins 30 --pool-one-joins 8  # quick
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import (
    add_common_args,
    bench_database,
    chat_with_two_admins,
    inbox_tally,
    newcomers,
    setup_email_django,
    write_results,
)

QUEUE = "email"


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine from /proc/stat (None off Linux): whether a
    phase fell short of its ceiling for want of CPU, ours or another program's."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        ticks = [int(value) for value in first[1:9]]  # user .. steal; guest is inside user
    except (OSError, ValueError):
        return None
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)  # minus idle and iowait


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--joins", type=int, default=120, help="joins a phase (2 emails each), group's pool size"
    )
    parser.add_argument(
        "--pool-one-joins",
        type=int,
        default=20,
        help="joins a phase with one process per replica (0: skip those phases)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of one, two, two, one")
    parser.add_argument("--smtp-delay", type=float, default=0.2, help="seconds SMTP takes an email")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for a phase")
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    with contextlib.ExitStack() as stack:  # stops what it started, last first, on any failure
        results = run(args, stack)
    results["wall_s"] = time.monotonic() - started
    report(results)
    write_results(args.results, "email_scale", results)


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Every phase; each process it starts goes on `stack`, so the caller stops it."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-email-scale-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    database_url, drop_database = bench_database(args.database_url, workdir, "bench_email_scale")
    stack.callback(drop_database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")
    import redis as redis_py

    import testing

    redis = stack.enter_context(testing.RedisProcess())
    smtp = stack.enter_context(
        testing.SmtpProcess(mail_dir=workdir / "inbox", delay=args.smtp_delay)
    )
    setup_email_django(database_url, redis.url, smtp)
    from django.conf import settings
    from django.db.models import Max

    from chatplatform.celery import app
    from chats import services
    from chats.emails import delivery as email_delivery
    from chats.models import Notification
    from core.outbox import OutboxStatus

    broker = redis_py.Redis.from_url(redis.url)
    stack.callback(broker.close)
    group_concurrency = settings.WORKER_GROUPS[QUEUE]["concurrency"]
    owner, chat = chat_with_two_admins("scale")
    Notification.objects.all().delete()  # the emails about the admins' own joins ...
    app.control.purge()  # ... and their tasks: not part of any phase
    results: dict[str, Any] = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "smtp_delay_s": args.smtp_delay,
        "group_concurrency": group_concurrency,
        "prefetch": settings.WORKER_GROUPS[QUEUE]["prefetch"],
        "rounds": args.rounds,
        "pools": {},
    }
    print(
        f"{results['database']}; SMTP {args.smtp_delay:g} s a message; email group: "
        f"concurrency {group_concurrency}, prefetch {results['prefetch']}; "
        f"{args.rounds} round(s) of one, two, two, one replicas"
    )
    env = testing.django_env(LOG_LEVEL="WARNING")

    def consumers(action: str, hosts: list[str]) -> None:
        """add_consumer / cancel_consumer of the email queue on `hosts`, once each answered."""
        answers = getattr(app.control, action)(QUEUE, destination=hosts, reply=True, timeout=10)
        assert len(answers) == len(hosts), (action, answers)

    def tasks_done(hosts: list[str]) -> dict[str, int]:
        """Tasks each worker has run so far (Celery's own count, from `inspect stats`)."""
        stats = app.control.inspect(destination=hosts, timeout=5).stats() or {}
        return {host: sum(stats.get(host, {}).get("total", {}).values()) for host in hosts}

    def start_pair(concurrency: int) -> tuple[list, list[str]]:
        """Two replicas of the group, idle (not consuming the queue) until a start gun."""
        pair = [
            testing.WorkerProcess(
                env, group=QUEUE, concurrency=concurrency, name=f"scale-{name}-c{concurrency}"
            )
            for name in ("a", "b")
        ]
        hosts = [worker.hostname for worker in pair]
        for worker in pair:  # both boot at once, waited for together: half the start-up
            worker.ready = None
            stack.enter_context(worker)
        try:
            testing.wait_until(
                lambda: len(app.control.ping(destination=hosts, timeout=0.5)) == len(hosts),
                90,
                "both replicas to answer a ping",
            )
        except TimeoutError:
            tails = "\n".join(worker.log_tail() for worker in pair)
            raise RuntimeError(f"the email replicas did not start:\n{tails}") from None
        consumers("cancel_consumer", hosts)
        return pair, hosts

    def phase(number: int, active: list[str], concurrency: int, joins: int) -> dict:
        """Queue 2 x joins emails with nobody consuming, start `active`, time the drain, and
        check the inbox holds each of them exactly once."""
        emails = 2 * joins
        users = newcomers(f"c{concurrency}p{number}-", joins)
        after = Notification.objects.aggregate(last=Max("pk"))["last"] or 0
        queued_at = time.monotonic()
        for user in users:
            services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
        joins_s = time.monotonic() - queued_at
        rows = list(Notification.objects.filter(pk__gt=after).values_list("pk", flat=True))
        waiting = broker.llen(QUEUE)
        assert len(rows) == emails and waiting == emails, (len(rows), waiting, emails)
        before, cpu_before = tasks_done(active), cpu_ticks()
        started = time.monotonic()
        consumers("add_consumer", active)
        testing.wait_until(lambda: smtp.inbox.count() >= emails, args.timeout, "emails", 0.05)
        seconds = time.monotonic() - started
        cpu_after = cpu_ticks()
        consumers("cancel_consumer", active)
        time.sleep(1)  # anything extra (a duplicate) would arrive now
        tally = inbox_tally(smtp.inbox, expected=map(email_delivery.message_id, rows))
        sent = Notification.objects.filter(pk__in=rows, status=OutboxStatus.SENT).count()
        done = tasks_done(active)
        cpu = None
        if cpu_before and cpu_after:
            cpu = 100 * (cpu_after[0] - cpu_before[0]) / (cpu_after[1] - cpu_before[1])
        row = {
            "phase": number,
            "replicas": len(active),
            "concurrency": concurrency,
            "emails": emails,
            "joins_s": joins_s,
            "seconds": seconds,
            "emails_per_s": emails / seconds,
            "ceiling_emails_per_s": len(active) * concurrency / args.smtp_delay,
            "tasks_per_replica": [done[host] - before[host] for host in active],
            "machine_cpu_busy_pct": cpu,
            **tally,
            "rows_sent": sent,
        }
        row["of_ceiling"] = row["emails_per_s"] / row["ceiling_emails_per_s"]
        name = f"phase {number}" if number else "warm-up"
        print(
            f"  {name}: {len(active)} replica(s) x {concurrency}: {emails} emails in "
            f"{seconds:.1f} s = {row['emails_per_s']:.1f}/s (ceiling "
            f"{row['ceiling_emails_per_s']:g}/s; tasks per replica {row['tasks_per_replica']}; "
            f"machine CPU {cpu or float('nan'):.0f}% busy of {os.cpu_count()} cores; "
            f"inbox {tally['received']}, {tally['duplicate_message_ids']} duplicates)"
        )
        exactly_once = tally["received"] == tally["distinct_message_ids"] == emails
        nothing_else = tally["missing_message_ids"] == tally["unexpected_message_ids"] == 0
        assert exactly_once and nothing_else and sent == emails, row
        smtp.inbox.clear()
        return row

    sizes = [(group_concurrency, args.joins)]
    if args.pool_one_joins and group_concurrency != 1:
        sizes.append((1, args.pool_one_joins))
    number = 0
    for concurrency, joins in sizes:
        pair, (a, b) = start_pair(concurrency)
        # Discarded: each pool process's first task opens its database connection.
        phase(0, [a, b], concurrency, 2 * concurrency)
        phases = []
        for round_number in range(args.rounds):
            # The single replica alternates, so neither process is always the one measured alone.
            first, last = (b, a) if round_number % 2 else (a, b)
            for active in ([first], [a, b], [a, b], [last]):
                number += 1
                phases.append(phase(number, active, concurrency, joins))
        with ThreadPoolExecutor(len(pair)) as stopping:  # each waits for its warm shutdown
            list(stopping.map(lambda worker: worker.stop(), pair))
        results["pools"][str(concurrency)] = summarize(phases, concurrency, args.smtp_delay)
    return results


def summarize(phases: list[dict], concurrency: int, smtp_delay: float) -> dict:
    """Per replica count: emails/s over all its phases (emails / seconds), each phase's rate,
    and the ceiling; then two / one."""
    out: dict[str, Any] = {"phases": phases}
    for replicas, key in ((1, "one"), (2, "two")):
        mine = [p for p in phases if p["replicas"] == replicas]
        rates = [p["emails_per_s"] for p in mine]
        out[key] = {
            "emails_per_s": sum(p["emails"] for p in mine) / sum(p["seconds"] for p in mine),
            "phase_rates": rates,
            "spread_pct": 100 * (max(rates) - min(rates)) / statistics.fmean(rates),
            "ceiling_emails_per_s": replicas * concurrency / smtp_delay,
        }
        out[key]["of_ceiling"] = out[key]["emails_per_s"] / out[key]["ceiling_emails_per_s"]
    out["ratio_two_to_one"] = out["two"]["emails_per_s"] / out["one"]["emails_per_s"]
    return out


def report(results: dict) -> None:
    """One table: replicas x processes, emails/s (each phase's), ceiling, share of it; ratio."""
    print(
        f"\nemail worker replicas, SMTP {results['smtp_delay_s']:g} s a message "
        f"({results['database']}, prefetch {results['prefetch']})"
    )
    print(f"{'replicas x processes':22} {'emails/s':>9} {'ceiling':>8} {'of ceil':>8}  per phase")
    for concurrency, pool in results["pools"].items():
        for key, replicas in (("one", 1), ("two", 2)):
            row = pool[key]
            phases = ", ".join(f"{rate:.1f}" for rate in row["phase_rates"])
            print(
                f"{f'{replicas} x {concurrency}':22} {row['emails_per_s']:9.1f} "
                f"{row['ceiling_emails_per_s']:8g} {100 * row['of_ceiling']:7.0f}%  {phases}"
            )
        each = f"{concurrency} process{'es' if concurrency != '1' else ''} each"
        print(f"  two / one replicas ({each}): x{pool['ratio_two_to_one']:.2f} (ceiling x2)")
    print("every phase: each email in the inbox exactly once, Message-IDs = the phase's rows")
    print(f"wall time {results['wall_s']:.0f} s")


if __name__ == "__main__":
    main()

"""Admin emails: what they cost the request, and how fast the pipeline drains a burst of joins.

Two measurements, each against a baseline taken in the same run, on real services (Redis, Celery
workers, an SMTP server in its own process, the database given by --database-url):

1. Request cost: POST /api/chats/<id>/members/ (in-process DRF client) into a chat whose two
   admins want emails (two notification rows + two tasks queued after commit) versus a chat whose
   two admins turned emails off; requests alternate between the two chats; median and p99.
2. Throughput: --joins joins (services.add_member) in a chat with two admins, with Celery workers
   running -> time until all 2 x joins emails are in the SMTP server, versus a plain loop that
   sends the same number of emails straight to the same SMTP server (one connection per email,
   as each task does; a single reused connection is shown too). The loop is the ceiling.

    .venv/bin/python -m bench.bench_email                           # 1000 requests, 2000 joins
    .venv/bin/python -m bench.bench_email --database-url "$(scripts/postgres.sh)"  # PostgreSQL
    .venv/bin/python -m bench.bench_email --requests 200 --joins 300  # quick
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import (
    add_common_args,
    bench_database,
    chat_with_two_admins,
    inbox_tally,
    newcomers,
    percentile,
    setup_email_django,
    write_results,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="API calls per mode (on, off)")
    parser.add_argument("--joins", type=int, default=2000, help="joins in the throughput phase")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--worker-conn-max-age",
        type=int,
        default=60,
        help="the workers' WORKER_DATABASE_CONN_MAX_AGE (0: a connection a task)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the inbox")
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-email-"))
    database_url, drop_database = bench_database(args.database_url, workdir, "bench_email")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")

    import testing

    redis = testing.RedisProcess().start()
    smtp = testing.SmtpProcess(mail_dir=workdir / "inbox").start()
    setup_email_django(database_url, redis.url, smtp)
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives, get_connection
    from rest_framework.test import APIClient

    from chatplatform.celery import app as celery_app
    from chats import services
    from chats.emails import delivery as email_delivery
    from chats.models import Notification
    from core.outbox import OutboxStatus

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}; redis {redis.url}; SMTP 127.0.0.1:{smtp.port}")

    results: dict = {
        "database": engine,
        "workers": args.workers,
        "worker_conn_max_age": args.worker_conn_max_age,
    }
    worker = None
    try:
        # --- 1. request cost, notifications on vs off ------------------------------------------
        warmup = 20
        owner_on, chat_on = chat_with_two_admins("on", emails=True)
        owner_off, chat_off = chat_with_two_admins("off", emails=False)
        users_on = newcomers("on-new", args.requests + warmup)
        users_off = newcomers("off-new", args.requests + warmup)
        Notification.objects.all().delete()  # the emails about the admins' own joins
        api_on, api_off = APIClient(), APIClient()
        api_on.force_authenticate(owner_on)
        api_off.force_authenticate(owner_off)
        timings: dict[str, list[float]] = {"on": [], "off": []}
        for i in range(args.requests + warmup):
            order = [("on", api_on, chat_on, users_on), ("off", api_off, chat_off, users_off)]
            for mode, api, chat, users in order if i % 2 else reversed(order):
                before = time.perf_counter()
                response = api.post(
                    f"/api/chats/{chat.pk}/members/", {"user_id": users[i].pk}, format="json"
                )
                elapsed = (time.perf_counter() - before) * 1000
                assert response.status_code == 201, response.content[:300]
                if i >= warmup:
                    timings[mode].append(elapsed)
        queued = Notification.objects.filter(chat_id=chat_on.pk).count()
        assert queued == 2 * (args.requests + warmup), queued
        assert not Notification.objects.filter(chat_id=chat_off.pk).exists()
        latency = {
            mode: {
                "requests": len(values),
                "p50_ms": statistics.median(values),
                "p99_ms": percentile(values, 99),
                "mean_ms": statistics.fmean(values),
            }
            for mode, values in timings.items()
        }
        latency["ratio_p50"] = latency["on"]["p50_ms"] / latency["off"]["p50_ms"]
        latency["ratio_p99"] = latency["on"]["p99_ms"] / latency["off"]["p99_ms"]
        latency["added_p50_ms"] = latency["on"]["p50_ms"] - latency["off"]["p50_ms"]
        results["request_cost"] = latency
        # Nobody consumed those tasks: drop them, they are not part of the throughput phase.
        celery_app.control.purge()
        Notification.objects.all().delete()

        # --- 2a. the ceiling: a plain loop sending straight to the SMTP server ----------------
        total = 2 * args.joins

        def inbox_full() -> float:
            """Monotonic time at which the inbox first held every email."""
            testing.wait_until(lambda: smtp.inbox.count() >= total, args.timeout, "emails", 0.05)
            return time.monotonic()

        # As the pipeline's emails are: about one chat, to one admin (its unsubscribe headers).
        template = Notification(
            pk=0,
            event=Notification.Event.MEMBER_ADDED,
            chat_id=chat_on.pk,
            recipient_id=owner_on.pk,
            subject="[bench] someone joined the chat",
            recipient_email="admin@example.com",
            body_text="someone was added to the chat by someone.\n" * 3,
            body_html="<p>someone was added to the chat by someone.</p>" * 3,
        )

        def loop(reuse: bool) -> float:
            smtp.inbox.clear()
            started = time.monotonic()
            shared = get_connection(timeout=5) if reuse else None
            if shared is not None:
                shared.open()
            for n in range(total):
                template.pk = n + 1
                connection = shared or get_connection(timeout=5)
                email: EmailMultiAlternatives = email_delivery.build_email(template, connection)
                email.send()
            if shared is not None:
                shared.close()
            return inbox_full() - started

        loop_seconds = loop(reuse=False)
        loop_reused_seconds = loop(reuse=True)
        smtp.inbox.clear()

        # --- 2b. the pipeline: joins -> rows -> Redis -> workers -> SMTP ----------------------
        owner, chat = chat_with_two_admins("burst", emails=True)
        joiners = newcomers("burst-new", args.joins)
        Notification.objects.all().delete()
        worker = testing.WorkerProcess(
            testing.django_env(WORKER_DATABASE_CONN_MAX_AGE=args.worker_conn_max_age),
            concurrency=args.workers,
            group="email",
            name="bench-email-worker",
        ).start()
        started = time.monotonic()
        for user in joiners:
            services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=user.pk)
        joins_done = time.monotonic()
        last_email = inbox_full()
        pipeline_seconds = last_email - started
        time.sleep(1)  # anything extra (a duplicate) would arrive now
        tally = inbox_tally(smtp.inbox)
        statuses = dict(Counter(Notification.objects.values_list("status", flat=True)))
        results["throughput"] = {
            "joins": args.joins,
            "emails": total,
            "received": tally["received"],
            "duplicate_message_ids": tally["duplicate_message_ids"],
            "rows_by_status": statuses,
            "joins_seconds": joins_done - started,
            "pipeline_seconds": pipeline_seconds,
            "drain_after_last_join_seconds": last_email - joins_done,
            "pipeline_emails_per_s": total / pipeline_seconds,
            "loop_seconds": loop_seconds,
            "loop_emails_per_s": total / loop_seconds,
            "loop_reused_connection_seconds": loop_reused_seconds,
            "loop_reused_connection_emails_per_s": total / loop_reused_seconds,
            "ratio_pipeline_to_loop_time": pipeline_seconds / loop_seconds,
        }
        assert statuses.get(OutboxStatus.SENT) == total, statuses
    finally:
        if worker is not None:
            worker.stop()
        smtp.stop()
        redis.stop()
        drop_database()
        shutil.rmtree(workdir, ignore_errors=True)  # two Maildirs of 4,000 emails each

    lat, thr = results["request_cost"], results["throughput"]
    print(f"\n1. Request cost of the notification ({lat['on']['requests']} requests per mode)")
    print(f"   {'':28} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for mode, label in (("off", "admins' emails off"), ("on", "admins' emails on (2 rows)")):
        row = lat[mode]
        print(f"   {label:28} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {row['mean_ms']:8.2f}")
    print(
        f"   on/off: p50 x{lat['ratio_p50']:.2f} (+{lat['added_p50_ms']:.2f} ms), "
        f"p99 x{lat['ratio_p99']:.2f}"
    )
    print(f"\n2. Throughput: {thr['joins']} joins x 2 admins = {thr['emails']} emails")
    print(
        f"   pipeline ({args.workers} worker processes, DATABASE_CONN_MAX_AGE="
        f"{args.worker_conn_max_age}): {thr['pipeline_seconds']:.1f} s "
        f"({thr['pipeline_emails_per_s']:.0f} emails/s; joins took {thr['joins_seconds']:.1f} s, "
        f"drain after the last join {thr['drain_after_last_join_seconds']:.1f} s)"
    )
    print(
        f"   plain loop, one connection per email: {thr['loop_seconds']:.1f} s "
        f"({thr['loop_emails_per_s']:.0f} emails/s); one reused connection: "
        f"{thr['loop_reused_connection_seconds']:.1f} s "
        f"({thr['loop_reused_connection_emails_per_s']:.0f} emails/s)"
    )
    print(
        f"   pipeline / loop time: x{thr['ratio_pipeline_to_loop_time']:.2f}; "
        f"received {thr['received']}, duplicate Message-IDs {thr['duplicate_message_ids']}"
    )
    write_results(args.results, "email", results)


if __name__ == "__main__":
    main()

"""Head-of-line blocking: live message latency while 1,000 admin emails drain, against none.

On real services started as `make up` starts them (Redis, Centrifugo, the `live` and `email`
worker groups at their declared concurrency, an SMTP server taking --smtp-delay per message, the
database of --database-url), with WebSocket subscribers in another process:

1. no backlog: --messages chat messages posted through the API (in-process DRF client) at
   --rate, each timed from the start of its request to its arrival at every subscriber;
2. backlog: one join (services.add_member) in a chat with --emails admins, each with their own
   address (written with bulk_create: joining them through the service would email every
   earlier admin), queues that many emails; the same messages again while they drain.

The goal: backlog p99 within 2x the no-backlog p99. Then it waits for the inbox to fill and
counts distinct Message-IDs (every email once). --single-pool adds the layout before (every
task on one queue, one worker of 2 processes, live events through it): a handful of messages,
each waited for at most --single-pool-wait seconds, so its figures may be lower bounds.

    .venv/bin/python -m bench.bench_head_of_line --single-pool  # 100 messages, 1,000 emails
    .venv/bin/python -m bench.bench_head_of_line --subscribers 5 --messages 10 --emails 100
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections import Counter

from bench.common import (
    add_common_args,
    inbox_tally,
    setup_django,
    write_results,
)
from bench.listener import Listener, subscriber_specs
from bench.live import (
    LiveServices,
    Pacer,
    api_poster,
    chat_with_members,
    live_services,
    summarize,
    wait_for_outbox,
)

GOAL = 2.0  # backlog p99 / no-backlog p99


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10, help="WebSocket clients")
    parser.add_argument("--messages", type=int, default=100, help="chat messages per phase")
    parser.add_argument("--rate", type=float, default=5, help="chat messages per second")
    parser.add_argument("--emails", type=int, default=1000, help="admins, so emails in the backlog")
    parser.add_argument("--smtp-delay", type=float, default=0.2, help="seconds SMTP takes an email")
    parser.add_argument("--clients", type=int, default=2, help="threads posting to the API")
    parser.add_argument(
        "--drain-timeout", type=float, default=600, help="seconds to wait for every email"
    )
    parser.add_argument(
        "--single-pool", action="store_true", help="also measure the layout before the split"
    )
    parser.add_argument("--single-pool-messages", type=int, default=10)
    parser.add_argument(
        "--single-pool-wait",
        type=float,
        default=30,
        help="seconds to wait for the layout before's messages once posted",
    )
    add_common_args(parser)
    return parser.parse_args()


def route_every_task_to(queue: str) -> None:
    """The layout before the split, for the tasks this process sends: every task on one queue,
    first in, first out (Celery reads the routes once, so the router is rebuilt)."""
    from chatplatform.celery import app

    app.conf.update(CELERY_TASK_ROUTES={"*": {"queue": queue}})
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()


def main() -> None:
    args = parse_args()
    with contextlib.ExitStack() as stack:  # stops what it started, last first, on any failure
        rig = stack.enter_context(live_services(args.database_url, "bench-hol"))
        results = run(args, rig, stack)
    report(results, args)
    write_results(args.results, "head_of_line", results)


def run(args: argparse.Namespace, rig: LiveServices, stack: contextlib.ExitStack) -> dict:
    """Both phases (and the layout before, with --single-pool); every process it starts goes
    on `stack`, so the caller stops it."""
    import testing

    smtp = stack.enter_context(
        testing.SmtpProcess(mail_dir=rig.workdir / "inbox", delay=args.smtp_delay)
    )
    os.environ.update(**smtp.django_env, EMAIL_TIMEOUT="5")
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from accounts import profiles
    from accounts.models import AddPolicy
    from chats import services
    from chats.models import Membership, Notification, Role
    from core.outbox import OutboxStatus
    from integrations import centrifugo

    User = get_user_model()
    author, chat, members = chat_with_members(args.subscribers, "hol")
    admins = User.objects.bulk_create(
        User(username=f"hol-admin{n}", email=f"hol-admin{n}@example.com")
        for n in range(args.emails)
    )
    Membership.objects.bulk_create(
        Membership(chat=chat, user=user, role=Role.ADMIN) for user in admins
    )
    joiners = User.objects.bulk_create(
        User(username=f"hol-joiner{n}", email=f"hol-joiner{n}@example.com") for n in range(2)
    )
    # Admin emails go only to confirmed addresses; the author adds the joiners directly, which
    # their setting must allow.
    profiles.confirm_all([*admins, *joiners], who_can_add=AddPolicy.EVERYONE)

    def pending() -> int:
        return Notification.objects.exclude(status=OutboxStatus.SENT).count()

    def backlog(joiner) -> float:
        """One join: --emails notification rows and tasks, queued after commit; its seconds."""
        started = time.monotonic()
        services.add_member(chat_id=chat.pk, actor_id=author.pk, user_id=joiner.pk)
        return time.monotonic() - started

    env = testing.django_env(LOG_LEVEL="WARNING")
    live = stack.enter_context(testing.WorkerProcess(env, group="live", name="bench-live"))
    email = stack.enter_context(testing.WorkerProcess(env, group="email", name="bench-email"))
    specs = subscriber_specs(members, [("pipeline", centrifugo.chat_channel(chat.pk))])
    listener = stack.enter_context(Listener(rig.hub.ws_url, specs))
    pacer = stack.enter_context(Pacer(args.clients))
    post = api_poster(author, chat.pk)

    def measure(name: str, count: int, cap: float | None = None) -> dict:
        """`count` messages at --rate; their arrivals (waited for at most `cap` seconds, then
        what is missing counts as arriving then: lower bounds) and the emails still pending
        when the last was posted."""
        sent = pacer.run(post, args.rate, count)
        emails_pending = pending()
        expected = len(sent) * args.subscribers
        if cap is None:
            wait_for_outbox()
            listener.wait_for(expected)
        else:
            listener.wait_for(expected, timeout=cap, quiet=cap)
        censor_at = time.monotonic() if cap is not None else None
        arrivals = listener.collect()
        row = summarize(name, sent, arrivals, "pipeline", args.subscribers, censor_at=censor_at)
        return {**row, "emails_pending_at_last_post": emails_pending}

    results: dict = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "subscribers": args.subscribers,
        "rate": args.rate,
        "emails": args.emails,
        "smtp_delay_s": args.smtp_delay,
        "worker_groups": {
            group: settings.WORKER_GROUPS[group]["concurrency"] for group in ("live", "email")
        },
    }
    print(
        f"{args.subscribers} subscribers; {args.messages} messages a phase at {args.rate:g} "
        f"msg/s; {args.emails} emails through a {args.smtp_delay:g} s SMTP server; "
        f"{results['database']}; worker groups {results['worker_groups']}"
    )
    pacer.run(post, args.rate, 10)  # warm-up, discarded
    wait_for_outbox()
    listener.wait_for(10 * args.subscribers)
    listener.collect()

    quiet = measure("no backlog", args.messages)
    queued_in = backlog(joiners[0])
    backlog_started = time.monotonic() - queued_in
    loaded = measure("backlog", args.messages)
    try:
        testing.wait_until(
            lambda: smtp.inbox.count() >= args.emails, args.drain_timeout, "emails", 0.2
        )
        drained_in = time.monotonic() - backlog_started
    except TimeoutError:
        drained_in = None
    time.sleep(1)  # anything extra (a duplicate) would arrive now
    results["after_commit"] = {
        "no_backlog": quiet,
        "backlog": loaded,
        "ratio_p50": loaded["p50_ms"] / quiet["p50_ms"],
        "ratio_p99": loaded["p99_ms"] / quiet["p99_ms"],
        "goal_met": loaded["p99_ms"] <= GOAL * quiet["p99_ms"],
    }
    results["emails_check"] = {
        "queued_in_s": queued_in,
        "drained_in_s": drained_in,
        **inbox_tally(smtp.inbox),
        "rows_by_status": dict(Counter(Notification.objects.values_list("status", flat=True))),
    }
    if not args.single_pool:
        return results

    email.stop()
    live.stop()
    route_every_task_to(settings.CELERY_TASK_DEFAULT_QUEUE)
    settings.CENTRIFUGO_PUBLISH_AFTER_COMMIT = False  # read per call by chats.realtime
    stack.enter_context(
        testing.WorkerProcess(
            testing.django_env(LOG_LEVEL="WARNING", CENTRIFUGO_PUBLISH_AFTER_COMMIT="false"),
            concurrency=2,
            name="bench-single-pool",
        )
    )
    old_quiet = measure("no backlog", args.single_pool_messages)
    backlog(joiners[1])
    old_loaded = measure("backlog", args.single_pool_messages, cap=args.single_pool_wait)
    results["single_pool_before"] = {
        "layout": "one queue, one worker of 2 processes, live events through the worker",
        "wait_cap_s": args.single_pool_wait,
        "no_backlog": old_quiet,
        "backlog": old_loaded,
        "ratio_p99": old_loaded["p99_ms"] / old_quiet["p99_ms"],
    }
    return results


def report(results: dict, args: argparse.Namespace) -> None:
    """Print the figures: latency per phase and the ratio to the goal, the emails check, and the
    layout before when measured."""
    print(
        f"\n{'layout: phase':50} {'p50 ms':>10} {'p99 ms':>10} {'max ms':>10} {'deliv%':>7}", end=""
    )
    print(f" {'API p50':>8} {'API p99':>8} {'emails left':>11}")

    def rows(label: str, block: dict) -> None:
        for key in ("no_backlog", "backlog"):
            row = block[key]
            bound = ">=" if row["lower_bounds"] else ""
            p50, p99, top = (bound + format(row[k], ".1f") for k in ("p50_ms", "p99_ms", "max_ms"))
            print(
                f"{label + ': ' + row['phase']:50} {p50:>10} {p99:>10} {top:>10} "
                f"{row['delivered_pct']:7.1f} {row['call_p50_ms']:8.1f} {row['call_p99_ms']:8.1f} "
                f"{row['emails_pending_at_last_post']:11d}"
            )

    now = results["after_commit"]
    groups = ", ".join(f"{g} x{n}" for g, n in results["worker_groups"].items())
    rows(f"after-commit, groups {groups}", now)
    verdict = "met" if now["goal_met"] else "NOT met"
    print(
        f"backlog / no backlog: p50 x{now['ratio_p50']:.2f}, p99 x{now['ratio_p99']:.2f} "
        f"(goal: p99 within x{GOAL:g}: {verdict})"
    )
    mail = results["emails_check"]
    drained = f"{mail['drained_in_s']:.1f} s" if mail["drained_in_s"] else "not within timeout"
    print(
        f"emails: {args.emails} queued in {mail['queued_in_s']:.1f} s, all in the inbox after "
        f"{drained}; inbox {mail['received']} messages, {mail['distinct_message_ids']} distinct "
        f"Message-IDs, {mail['duplicate_message_ids']} duplicates; rows {mail['rows_by_status']}"
    )
    if old := results.get("single_pool_before"):
        print(
            f"\nthe layout before ({old['layout']}), {args.single_pool_messages} messages, "
            f"each waited for at most {old['wait_cap_s']:g} s (>=: lower bounds)"
        )
        rows("before: one queue, one pool of 2", old)
        late = old["backlog"]["lost"]
        print(
            f"before: backlog / no backlog p99 x{old['ratio_p99']:.1f}; "
            f"{late} of {old['backlog']['expected_deliveries']} deliveries not in within the cap"
        )


if __name__ == "__main__":
    main()

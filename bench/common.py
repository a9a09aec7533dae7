"""What every benchmark needs: the shared flags, a throwaway database to measure on, Django set
up on it, percentiles, one way to write results (so runs can be compared file by file), the
admin-email fixtures and a tally of an SMTP sink. What the live-delivery benchmarks share is in
`live.py`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


def add_common_args(
    parser: argparse.ArgumentParser,
    database_help: str = "PostgreSQL server to create a throwaway database on "
    "(default: SQLite in a temporary directory)",
) -> None:
    """--database-url (scripts/bench.sh passes its PostgreSQL) and --results, on every bench."""
    parser.add_argument("--database-url", default="", help=database_help)
    parser.add_argument(
        "--results", default=str(RESULTS_DIR), help="folder for the JSON results (bench/results)"
    )


def write_results(folder: str | Path, name: str, results: dict) -> Path:
    """Write `results` to <folder>/<name>-<UTC time>.json, a new file a run, and say where."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def setup_django() -> None:
    """django.setup() on the fresh database of DATABASE_URL, then migrate it. The in-process
    test clients (DRF's APIClient, django.test.Client) send Host: testserver, so allow it.
    A benchmark posts far faster than any person: no per-user write limit (WRITE_RATE_LIMIT)."""
    import django

    os.environ["WRITE_RATE_LIMIT"] = ""

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)


def setup_email_django(database_url: str, redis_url: str, smtp: Any) -> None:
    """setup_django for the admin-email benchmarks: the database of `database_url`, Redis at
    `redis_url` (the Celery broker too), the SMTP sink `smtp` (testing.SmtpProcess), and every
    email measured: no recipient cap, no digest."""
    os.environ.update(
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        **smtp.django_env,
        EMAIL_TIMEOUT="5",
        EMAIL_RECIPIENT_LIMIT="",
    )
    setup_django()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values (a phase that received nothing)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def fresh_postgres(url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database next to the one in `url`; return its URL and a dropper."""
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    parts = urlsplit(url)
    admin_dsn = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            # A plain DROP stops an autovacuum worker busy on it (after a bulk load, often);
            # FORCE would refuse to, as that worker is not this role's to terminate. The
            # sessions of the web and worker processes just stopped take a moment to end: wait
            # for them, then terminate this role's sessions still open (a hung child) and
            # drop again, plainly, so autovacuum is still handled.
            deadline = time.monotonic() + 15
            while True:
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    return
                except psycopg.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
            left = conn.execute(
                "SELECT pid, backend_type, application_name, state, left(query, 80)"
                " FROM pg_stat_activity WHERE datname = %s AND usename = current_user",
                (name,),
            ).fetchall()
            print(f"terminating {len(left)} session(s) left on {name}: {left}", file=sys.stderr)
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(1)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def bench_database(url: str, workdir: Path, prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database: a new one on the PostgreSQL server of `url`, else SQLite in `workdir`."""
    if url.startswith("postgres"):
        return fresh_postgres(url, prefix)
    return url or f"sqlite:///{workdir / 'db.sqlite3'}", lambda: None


@contextlib.contextmanager
def throwaway_run(database_url: str, name: str) -> Iterator[tuple[Path, str, contextlib.ExitStack]]:
    """(work folder, database URL, stack) for one run of benchmark `name`: a fresh database
    (bench_database) and folder, both gone at the end, after whatever the run registered on
    `stack` (the processes it started, stopped last first, on any failure too)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        url, drop = bench_database(database_url, workdir, f"bench_{name}")
        stack.callback(drop)
        yield workdir, url, stack


def chat_with_two_admins(title: str, emails: bool = True) -> tuple[Any, Any]:
    """An owner's chat with two admins who want (or not) an email on every join: each join
    through services.add_member then queues two emails. Returns (owner, chat); the emails about
    the admins' own joins are queued too, so delete the rows (and purge) before measuring.
    The three are confirmed (admin emails go only to confirmed addresses) and anyone may add
    them."""
    from django.contrib.auth import get_user_model

    from accounts import profiles
    from accounts.models import AddPolicy
    from chats import services
    from chats.emails import preferences
    from chats.models import Role

    User = get_user_model()
    owner, *admins = User.objects.bulk_create(
        User(username=f"{title}-{role}", email=f"{title}-{role}@example.com")
        for role in ("owner", "admin1", "admin2")
    )
    profiles.confirm_all([owner, *admins], who_can_add=AddPolicy.EVERYONE)
    chat = services.create_chat(title=title, creator_id=owner.pk)
    for admin in admins:
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
        preferences.set_email_notifications(chat_id=chat.pk, user_id=admin.pk, enabled=emails)
    return owner, chat


def newcomers(prefix: str, n: int) -> list:
    """`n` new users, not in any chat (bulk_create: no emails), whom anyone may add
    (services.add_member adds them directly), their addresses confirmed."""
    from django.contrib.auth import get_user_model

    from accounts import profiles
    from accounts.models import AddPolicy

    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(n)
    )
    profiles.confirm_all(users, who_can_add=AddPolicy.EVERYONE)
    return users


def inbox_tally(inbox: Any, expected: Iterable[str] | None = None) -> dict[str, int]:
    """What an SMTP sink holds: messages, distinct Message-IDs, and the repeats (duplicates);
    given the `expected` Message-IDs, also how many of them are missing and how many others
    came (each message is parsed once: thousands take seconds)."""
    ids = Counter(message.message_id for message in inbox.messages())
    tally = {
        "received": sum(ids.values()),
        "distinct_message_ids": len(ids),
        "duplicate_message_ids": sum(n - 1 for n in ids.values() if n > 1),
    }
    if expected is not None:
        wanted = set(expected)
        tally["missing_message_ids"] = len(wanted - ids.keys())
        tally["unexpected_message_ids"] = len(ids.keys() - wanted)
    return tally

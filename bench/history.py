"""History bulk-loaded with COPY, and the naive way of counting it: what the statistics
benchmark (`bench_stats`) and the year-of-traffic benchmark (`bench_year`) share. COPY needs
PostgreSQL; every loader writes through Django's connection, so call them after setup_django."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

# auth_user's columns as the loaders write them (the id from the sequence unless given).
USER_COLUMNS = [
    "password",
    "is_superuser",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
]


def timed(label: str, func: Callable, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Run func(*args, **kwargs) once; print and return its wall time (and its result)."""
    started = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - started
    print(f"  {label:<44} {elapsed:9.2f} s", flush=True)
    return elapsed, result


# --- the database ------------------------------------------------------------------------------


def copy_rows(table: str, columns: list[str], lines: Iterable[str]) -> None:
    """COPY tab-separated lines into `table` on Django's connection (one round trip a chunk)."""
    from django.db import connection

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        buffer = io.StringIO()
        for i, line in enumerate(lines, start=1):
            buffer.write(line)
            buffer.write("\n")
            if i % 200_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def load_people(users: int, chats: int, start: datetime, rng: np.random.Generator) -> None:
    """`users` users who joined over 80 days from 10 days before `start`; `chats` chats created
    on `start`'s day, with 10 members each (and their join events)."""
    from django.db import connection

    span = 80 * 86400
    joined = [
        start - timedelta(days=10) + timedelta(seconds=int(s)) for s in rng.integers(0, span, users)
    ]
    copy_rows(
        "auth_user",
        USER_COLUMNS,
        [
            f"!\tf\tbench{i}\t\t\tbench{i}@example.com\tf\tt\t{joined[i].isoformat()}"
            for i in range(users)
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM auth_user")
        first_user = cursor.fetchone()[0]
    created = [start + timedelta(seconds=int(s)) for s in rng.integers(0, 86400, chats)]
    copy_rows(
        "chats_chat",
        ["title", "created_by_id", "created_at", "updated_at", "is_demo"],
        [
            f"Chat {i}\t{first_user + i % users}\t{c.isoformat()}\t{c.isoformat()}\tf"
            for i, c in enumerate(created)
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM chats_chat")
        first_chat = cursor.fetchone()[0]
    members, events = [], []
    for i in range(chats):
        for user in rng.choice(users, size=10, replace=False):
            at = created[i].isoformat()
            members.append(f"{first_chat + i}\t{first_user + int(user)}\tmember\tt\t{at}")
            events.append(f"{first_chat + i}\t{first_user + int(user)}\tjoin\t{at}")
    copy_rows(
        "chats_membership",
        ["chat_id", "user_id", "role", "email_notifications", "joined_at"],
        members,
    )
    copy_rows("chats_membershipevent", ["chat_id", "user_id", "kind", "at"], events)


def load_messages(
    count: int, start: datetime, end: datetime, users: int, chats: int, rng: np.random.Generator
) -> None:
    """`count` messages in [start, end): busy chats busier (a power law), any member writes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM auth_user")
        first_user = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM chats_chat")
        first_chat = cursor.fetchone()[0]
    span = (end - start).total_seconds()
    chunk = 500_000
    for offset in range(0, count, chunk):
        n = min(chunk, count - offset)
        chat = first_chat + (chats * rng.random(n) ** 3).astype(np.int64)
        author = first_user + rng.integers(0, users, n)
        seconds = rng.random(n) * span
        base = start.timestamp()
        stamps = [datetime.fromtimestamp(base + s, UTC).isoformat() for s in seconds]
        copy_rows(
            "chats_message",
            ["chat_id", "author_id", "text", "created_at"],
            [f"{c}\t{a}\thello\t{t}" for c, a, t in zip(chat, author, stamps, strict=True)],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- the naive way -----------------------------------------------------------------------------


def naive_pandas(until: datetime) -> dict[str, int]:
    """Everything from the messages table: load it all, group in pandas."""
    import pandas as pd
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT chat_id, author_id, created_at FROM chats_message WHERE created_at < %s",
            [until],
        )
        frame = pd.DataFrame(cursor.fetchall(), columns=["chat_id", "author_id", "created_at"])
    frame["hour"] = frame["created_at"].dt.floor("h")
    frame["day"] = frame["created_at"].dt.floor("D")
    hourly = frame.groupby("hour").agg(
        messages=("chat_id", "size"),
        active_users=("author_id", "nunique"),
        active_chats=("chat_id", "nunique"),
    )
    by_chat = frame.groupby(["hour", "chat_id"]).size()
    user_days = frame.groupby(["day", "author_id"]).size()
    days = sorted(frame["day"].unique())
    active = {}
    per_day = {day: set(users.index) for day, users in user_days.groupby(level=0)}
    for day in days[-30:]:
        for window in (1, 7, 30):
            seen = set()
            for back in range(window):
                seen |= per_day.get(day - pd.Timedelta(days=back), set())
            active[(day, window)] = len(seen)
    return {"hours": len(hourly), "chat_hours": len(by_chat), "user_days": len(user_days)}

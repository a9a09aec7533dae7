"""What every benchmark needs: percentiles, and a throwaway database to measure on."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


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
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def bench_database(url: str, workdir: Path, prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database: a new one on the PostgreSQL server of `url`, else SQLite in `workdir`."""
    if url.startswith("postgres"):
        return fresh_postgres(url, prefix)
    return url or f"sqlite:///{workdir / 'db.sqlite3'}", lambda: None

"""Backups of the platform's data, and their restore: what scripts/backup.sh and restore.sh run,
with the environment of the profile they serve (make prod's unless told otherwise).

    python -m launchers.backup create --dir var/backups [--with-secrets]
    python -m launchers.backup plan ARCHIVE       # what a restore overwrites; exit 3: refused
    python -m launchers.backup restore ARCHIVE [--with-secrets]

One archive, `chatplatform-<UTC time>-v<version>.tar` (plain tar: pg_dump's custom format is
compressed already), mode 0600 since the database holds password hashes and addresses:

- `manifest.json`: the version and commit that wrote it, the applied migrations, every table's
  row count, what it holds and what it does not (`HOLDS`, `DOES_NOT_HOLD`);
- `database.pgdump` (pg_dump -Fc) or `database.sqlite3` (SQLite's online backup);
- `reports/`: the reports folder (REPORTS_DIR), without a report still being written;
- `secrets/` only with --with-secrets: `.env` and make prod's local CA (its private key too).

The manifest is read in the very snapshot pg_dump dumps (exported to it by a REPEATABLE READ
transaction), so its counts and migrations are those of the dump even while the platform writes.

A restore refuses an archive whose migrations this code does not know (a newer schema: restore
it with the version that wrote it, then upgrade), replaces the whole database in one psql
`--single-transaction` (the old schema dropped and the dump loaded: a failure changes nothing),
then the reports. The outbox rows come back with their statuses, so what was delivered when the
backup was taken stays delivered; what was pending then is sent after the restore, once.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")

ROOT = Path(__file__).resolve().parent.parent
FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.pgdump"
SQLITE_COPY = "database.sqlite3"
REPORTS = "reports"
SECRETS = "secrets"
SECRET_ENV = f"{SECRETS}/.env"
SECRET_CA = f"{SECRETS}/tls-ca"
# A restore waits this long for a lock held by another session before giving up (unchanged).
LOCK_TIMEOUT = "60s"
# The tables a restore's plan shows, as a user names them; the manifest counts every table.
MAIN_TABLES = {
    "auth_user": "users",
    "chats_chat": "chats",
    "chats_membership": "memberships",
    "chats_message": "messages",
    "chats_invitation": "invitations",
    "chats_notification": "emails (outbox)",
    "chats_publication": "live events (outbox)",
    "core_tally": "running totals",
    "authtoken_token": "API tokens",
    "django_session": "sessions",
}
HOLDS = [
    "the database: users, profiles and consents, chats, memberships, messages, invitations,"
    " sessions and API tokens, the email and live-event outbox with each row's status (what"
    " was delivered stays delivered), the running totals of /metrics and /api/stats/, the"
    " statistics tables and job history",
    "the reports folder (REPORTS_DIR)",
]
DOES_NOT_HOLD = [
    ".env and make prod's local CA, unless made with --with-secrets",
    "Redis: queued tasks (the sweeper queues again what the outbox holds as pending), rate-limit"
    " counters, the statistics snapshot (recomputed within seconds)",
    "Centrifugo's history and presence: live events are not replayed",
    "Prometheus' time series and Alertmanager's silences ($VAR_DIR/prometheus, alertmanager)",
    "Flower's task history and beat's schedule state",
    "the development SMTP server's inbox ($VAR_DIR/mail)",
    "the TLS certificate and key (signed again at start), or a real domain's TLS_CERT_FILE"
    " and TLS_KEY_FILE",
    "static files (collectstatic at start) and the code: the manifest names its version and commit",
]
# libpq's connection keywords Django's PostgreSQL OPTIONS may carry (DATABASE_URL's query).
LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "gssencmode",
    "channel_binding",
}


class BackupError(Exception):
    """Something the user must fix; nothing was changed unless the message says so."""


class Refused(BackupError):
    """An archive this code must not restore (a newer schema, another engine)."""


def log(message: str) -> None:
    print(f"\033[1;34m==>\033[0m {message}", file=sys.stderr, flush=True)


def _settings() -> Any:
    import django

    django.setup()
    from django.conf import settings

    return settings


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def git_commit() -> dict[str, Any]:
    """HEAD and whether the tree had changes (None outside a git checkout)."""

    def git(*args: str) -> str | None:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": head, "uncommitted_changes": bool(status) if head else None}


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------ database


@dataclass(frozen=True)
class Database:
    """The database DATABASE_URL names, as Django reads it; the password kept apart so that no
    command line (`ps`) shows it: the tools get it in PGPASSWORD."""

    engine: str  # "postgresql" or "sqlite"
    name: str
    params: dict[str, str]
    password: str

    @classmethod
    def configured(cls) -> Database:
        db = _settings().DATABASES["default"]
        engine = db["ENGINE"]
        if engine.endswith("sqlite3"):
            return cls("sqlite", str(db["NAME"]), {}, "")
        if "postgresql" not in engine:
            raise BackupError(f"backups know PostgreSQL and SQLite, not {engine}")
        params = {"dbname": str(db["NAME"])}
        for key, setting in (("host", "HOST"), ("port", "PORT"), ("user", "USER")):
            if db.get(setting):
                params[key] = str(db[setting])
        for key, value in (db.get("OPTIONS") or {}).items():
            if key in LIBPQ_OPTIONS:
                params[key] = str(value)
        return cls("postgresql", str(db["NAME"]), params, str(db.get("PASSWORD") or ""))

    def describe(self) -> str:
        if self.engine == "sqlite":
            return f"SQLite database {self.name}"
        where = f"{self.params.get('host', 'localhost')}:{self.params.get('port', 5432)}"
        return f"PostgreSQL database {self.name} on {where} (role {self.params.get('user', '?')})"

    def conninfo(self, dbname: str | None = None) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**{**self.params, "dbname": dbname or self.name})

    def tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self, dbname: str | None = None, autocommit: bool = False) -> Any:
        import psycopg

        return psycopg.connect(
            self.conninfo(dbname), password=self.password or None, autocommit=autocommit
        )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is missing: apt-get install postgresql-client")
    return found


def _pg_read(cursor: Any) -> dict[str, Any]:
    """Every public table's rows and the applied migrations, as this cursor's snapshot sees them."""
    from psycopg import sql

    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    tables = [row[0] for row in cursor.fetchall()]
    rows = {}
    for table in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        rows[table] = cursor.fetchone()[0]
    migrations = []
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
    return {"rows": rows, "migrations": migrations}


def _sqlite_read(connection: sqlite3.Connection) -> dict[str, Any]:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    rows = {
        table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
        for table in tables
    }
    migrations = []
    if "django_migrations" in tables:
        migrations = [
            f"{app}.{name}"
            for app, name in connection.execute(
                "SELECT app, name FROM django_migrations ORDER BY id"
            )
        ]
    return {"rows": rows, "migrations": migrations}


def dump_postgres(db: Database, target: Path) -> dict[str, Any]:
    """pg_dump -Fc into `target`, in a snapshot whose counts and migrations are returned."""
    from psycopg import IsolationLevel

    pg_dump = _tool("pg_dump")
    with db.connect() as connection:
        connection.isolation_level = IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server_version = cursor.fetchone()
            read = _pg_read(cursor)
            # The transaction stays open while pg_dump runs: the snapshot lives as long as it.
            done = subprocess.run(
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    *("--file", str(target)),
                    *("--dbname", db.conninfo()),
                ],
                env=db.tool_env(),
                capture_output=True,
                text=True,
            )
        connection.rollback()
    if done.returncode:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    version = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout
    return {**read, "server_version": server_version, "dumped_by": version.strip()}


def dump_sqlite(db: Database, target: Path) -> dict[str, Any]:
    """SQLite's online backup (consistent while others write), read back for the manifest."""
    source_path = Path(db.name)
    if not source_path.exists():
        raise BackupError(f"{source_path} does not exist: nothing to back up")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        read = _sqlite_read(copy)
    finally:
        copy.close()
        source.close()
    return {**read, "server_version": sqlite3.sqlite_version, "dumped_by": "sqlite3 backup"}


# ------------------------------------------------------------------------------------- archive


def _report_files(reports_dir: Path) -> list[Path]:
    """The reports folder's files and links, without a report still being written (.tmp-*)."""
    if not reports_dir.is_dir():
        return []
    found = []
    for path in sorted(reports_dir.rglob("*")):
        relative = path.relative_to(reports_dir)
        if relative.parts[0].startswith(".tmp-"):
            continue
        if path.is_symlink() or path.is_file():
            found.append(path)
    return found


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, fileobj=io.BytesIO(data))


def _free_name(directory: Path, stem: str) -> Path:
    """`stem.tar` in `directory`, or `stem-2.tar`... when a backup of the same second exists."""
    candidate, number = directory / f"{stem}.tar", 1
    while candidate.exists():
        number += 1
        candidate = directory / f"{stem}-{number}.tar"
    return candidate


def create(
    out_dir: Path, *, with_secrets: bool = False, env_file: Path | None = None
) -> tuple[Path, dict]:
    """Write one archive into `out_dir`; its path and manifest."""
    settings = _settings()
    db = Database.configured()
    reports_dir = Path(settings.REPORTS_DIR)
    env_file = env_file or ROOT / ".env"
    ca_dir = Path(settings.VAR_DIR) / "tls" / "ca"
    started = time.monotonic()
    now = datetime.now(UTC)
    version = project_version()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log(f"backing up the {db.describe()} and {reports_dir}")
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".backup-") as work_name:
        work = Path(work_name)
        member = PG_DUMP if db.engine == "postgresql" else SQLITE_COPY
        dump = work / member
        read = dump_postgres(db, dump) if db.engine == "postgresql" else dump_sqlite(db, dump)
        reports = _report_files(reports_dir)
        secrets = []
        if with_secrets:
            if env_file.is_file():
                secrets.append(SECRET_ENV)
            if ca_dir.is_dir():
                secrets += [
                    f"{SECRET_CA}/{p.name}" for p in sorted(ca_dir.iterdir()) if p.is_file()
                ]
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "version": version,
            **git_commit(),
            "database": {
                "engine": db.engine,
                "name": db.name,
                "file": member,
                "bytes": dump.stat().st_size,
                "server_version": read["server_version"],
                "dumped_by": read["dumped_by"],
            },
            "migrations": read["migrations"],
            "rows": read["rows"],
            "reports": {
                "dir": str(reports_dir),
                "files": sum(1 for p in reports if p.is_file() and not p.is_symlink()),
                "bytes": sum(p.stat().st_size for p in reports if not p.is_symlink()),
            },
            "secrets": secrets,
            "holds": HOLDS + (["secrets: " + ", ".join(secrets)] if secrets else []),
            "does_not_hold": DOES_NOT_HOLD[1:] if secrets else DOES_NOT_HOLD,
        }
        partial = work / "archive.tar"
        with (
            os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw,
            tarfile.open(fileobj=raw, mode="w") as tar,
        ):
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            tar.add(dump, arcname=member)
            for path in reports:
                tar.add(path, arcname=f"{REPORTS}/{path.relative_to(reports_dir)}", recursive=False)
            if SECRET_ENV in secrets:
                tar.add(env_file, arcname=SECRET_ENV)
            for name in secrets:
                if name.startswith(SECRET_CA + "/"):
                    tar.add(ca_dir / name.rsplit("/", 1)[1], arcname=name)
        final = _free_name(out_dir, f"chatplatform-{now:%Y%m%dT%H%M%SZ}-v{version}")
        try:
            os.link(partial, final)  # never over an archive of the same name
        except FileExistsError:
            raise
        except OSError:  # no hard links on that filesystem: _free_name checked the name
            os.replace(partial, final)
    seconds = time.monotonic() - started
    rows = read["rows"]
    log(
        f"wrote {final} ({human_size(final.stat().st_size)}, {seconds:.1f} s): "
        + ", ".join(f"{rows[t]} {label}" for t, label in MAIN_TABLES.items() if t in rows)
        + f"; {manifest['reports']['files']} report files"
    )
    if secrets:
        print(
            "\n  !!! THIS ARCHIVE HOLDS SECRETS: " + ", ".join(secrets) + ".\n"
            "  !!! Passwords, keys and the local CA's private key: keep it like a password\n"
            "  !!! (mode 0600 here), never next to the data it protects.\n",
            file=sys.stderr,
        )
    return final, manifest


def read_manifest(archive: Path) -> dict:
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.load(member)
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as exc:
        raise Refused(f"{archive} is not a backup of this platform ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise Refused(
            f"{archive}: backup format {manifest.get('format')}, this code reads {FORMAT}"
        )
    return manifest


def known_migrations() -> set[str]:
    """Every migration this checkout has on disk, and those its squashed ones replace."""
    _settings()
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set()
    for (app, name), migration in loader.disk_migrations.items():
        known.add(f"{app}.{name}")
        known.update(f"{a}.{n}" for a, n in migration.replaces or ())
    return known


def schema_check(manifest: dict) -> list[str]:
    """This code's migrations the archive lacks (applied by `migrate` after the restore);
    Refused when the archive has migrations this code does not know."""
    known = known_migrations()
    newer = [name for name in manifest["migrations"] if name not in known]
    if newer:
        commit = (manifest.get("commit") or "unknown")[:12]
        raise Refused(
            f"this archive's database has {len(newer)} migration(s) this code does not know: "
            + ", ".join(newer)
            + f". It was written by a newer version (v{manifest.get('version')}, commit "
            f"{commit}) whose schema this code cannot read. Restore it with that version "
            f"(git checkout v{manifest.get('version')}, or that commit), then upgrade as"
            " docs/deploy.md says."
        )
    return sorted(known - set(manifest["migrations"]))


# --------------------------------------------------------------------------------- plan (ask)


def current_rows(db: Database) -> dict[str, int] | None:
    """Row counts of the database now; None when it does not exist (yet)."""
    if db.engine == "sqlite":
        if not Path(db.name).exists():
            return None
        connection = sqlite3.connect(f"file:{db.name}?mode=ro", uri=True)
        try:
            return _sqlite_read(connection)["rows"]
        finally:
            connection.close()
    import psycopg

    try:
        with db.connect() as connection, connection.cursor() as cursor:
            return _pg_read(cursor)["rows"]
    except psycopg.OperationalError as exc:
        if "does not exist" in str(exc):
            return None
        raise BackupError(f"cannot reach the {db.describe()}: {exc}") from exc


def plan(archive: Path, *, with_secrets: bool = False) -> str:
    """What a restore of `archive` would overwrite, for the question it asks; Refused first."""
    manifest = read_manifest(archive)
    db = Database.configured()
    if manifest["database"]["engine"] != db.engine:
        raise Refused(
            f"this archive holds a {manifest['database']['engine']} database and DATABASE_URL"
            f" names a {db.engine} one: restore it where the same engine runs"
        )
    missing = schema_check(manifest)
    reports_dir = Path(_settings().REPORTS_DIR)
    now = current_rows(db)
    then = manifest["rows"]
    lines = [
        f"Restore {archive.name}",
        f"  written    {manifest['created_at']} by v{manifest['version']}"
        + (f" (commit {manifest['commit'][:12]}" if manifest.get("commit") else " (no commit")
        + (", with uncommitted changes)" if manifest.get("uncommitted_changes") else ")"),
    ]
    if now is None:
        lines.append(f"  database   the {db.describe()} does not exist: it is created")
    else:
        lines.append(f"  database   the {db.describe()}: ALL ITS CONTENTS ARE REPLACED")
    lines.append(f"  {'':26}{'now':>12}{'in the archive':>16}")
    for table, label in MAIN_TABLES.items():
        if table in then or (now and table in now):
            current = "-" if now is None else str(now.get(table, "-"))
            lines.append(f"    {label:24}{current:>12}{then.get(table, '-')!s:>16}")
    other_now = sum(v for t, v in (now or {}).items() if t not in MAIN_TABLES)
    other_then = sum(v for t, v in then.items() if t not in MAIN_TABLES)
    lines.append(f"    {'rows of other tables':24}{other_now:>12}{other_then:>16}")
    files_now = [p for p in _report_files(reports_dir) if p.is_file() and not p.is_symlink()]
    lines.append(
        f"  reports    {reports_dir}: replaced ({len(files_now)} files,"
        f" {human_size(sum(p.stat().st_size for p in files_now))} now;"
        f" {manifest['reports']['files']} files, {human_size(manifest['reports']['bytes'])}"
        " in the archive)"
    )
    lines.append(
        f"  schema     {len(missing)} migration(s) of this code are newer than the archive:"
        " `manage.py migrate` applies them after the restore"
        if missing
        else "  schema     the archive's migrations are this code's"
    )
    if manifest["secrets"]:
        lines.append(
            "  secrets    in the archive ("
            + ", ".join(manifest["secrets"])
            + "): "
            + (
                "restored (.env and the local CA replaced, the current ones kept aside)"
                if with_secrets
                else "NOT restored (add --with-secrets to put them back)"
            )
        )
    else:
        lines.append("  secrets    none in the archive: .env and the local CA stay as they are")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- restore


def _ensure_database(db: Database) -> None:
    """Create the database when it does not exist (the role needs CREATEDB)."""
    import psycopg
    from psycopg import sql

    try:
        db.connect().close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise BackupError(f"cannot reach the {db.describe()}: {exc}") from exc
    user = db.params.get("user", "?")
    log(f"creating the database {db.name} (it does not exist)")
    last: Exception | None = None
    for maintenance in ("postgres", "template1"):
        try:
            with db.connect(maintenance, autocommit=True) as connection:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
                return
        except psycopg.errors.InsufficientPrivilege as exc:
            raise BackupError(
                f"the database {db.name} does not exist and role {user} may not create it:"
                f" as a superuser, CREATE DATABASE {db.name} OWNER {user}; then run again"
            ) from exc
        except psycopg.OperationalError as exc:
            last = exc
    raise BackupError(f"could not create the database {db.name}: {last}")


def _other_sessions(db: Database) -> list[str]:
    with db.connect(autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid, coalesce(nullif(application_name, ''), 'a client'), state"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [f"pid {pid} ({app}, {state})" for pid, app, state in rows]


def _sequences_forward(db: Database) -> str:
    """SQL that sets each sequence of the restored database to at least where the database
    being replaced had it: ids never go back, so an id used after the backup was taken (an
    email's Message-ID, a live event's idempotency key, a message id a page still shows) is
    never given to another row. Empty for a database that did not exist."""
    from psycopg import sql

    with db.connect(autocommit=True) as connection:
        rows = connection.execute(
            "SELECT sequencename, last_value FROM pg_sequences"
            " WHERE schemaname = 'public' AND last_value IS NOT NULL ORDER BY 1"
        ).fetchall()
        if not rows:
            return ""
        values = sql.SQL(", ").join(
            sql.SQL("({}, {})").format(sql.Literal(name), sql.Literal(value))
            for name, value in rows
        )
        # One statement over the sequences both schemas have (a newer one may have others).
        return (
            sql.SQL(
                "SELECT setval(format('public.%I', s.sequencename),"
                " GREATEST(s.last_value, p.value)) FROM pg_sequences s"
                " JOIN (VALUES {}) AS p(name, value) ON p.name = s.sequencename"
                " WHERE s.schemaname = 'public';\n"
            )
            .format(values)
            .as_string(connection)
        )


def restore_postgres(db: Database, dump: Path) -> None:
    """Replace the database's contents with the dump in one transaction: the public schema
    dropped (the tables of a newer schema too) and the dump loaded without its owners and
    grants (this role owns what it restores). The transaction commits only once pg_restore
    has read the whole dump: a failure, or a dump cut short, leaves the database as it was."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    _ensure_database(db)
    forward = _sequences_forward(db)
    others = _other_sessions(db)
    if others:
        log(
            "other sessions use the database: "
            + ", ".join(others)
            + f"; the restore waits {LOCK_TIMEOUT} at most for their locks"
        )
    begin = (
        f"BEGIN;\nSET client_min_messages = warning;\nSET LOCAL lock_timeout = '{LOCK_TIMEOUT}';\n"
        "DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"
        "SET LOCAL lock_timeout = 0;\n"
    )
    env = db.tool_env()
    with tempfile.TemporaryFile() as load_errors, tempfile.TemporaryFile() as dump_errors:
        loader = subprocess.Popen(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", *("--dbname", db.conninfo())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=load_errors,
            env=env,
        )
        reader = subprocess.Popen(
            [pg_restore, "--file=-", "--no-owner", "--no-privileges", str(dump)],
            stdout=subprocess.PIPE,
            stderr=dump_errors,
            env=env,
        )
        stdin: IO[bytes] = loader.stdin  # type: ignore[assignment]
        with contextlib.suppress(BrokenPipeError):  # psql stopped at an error: read below
            stdin.write(begin.encode())
            shutil.copyfileobj(reader.stdout, stdin)  # type: ignore[arg-type]
        reader.stdout.close()  # type: ignore[union-attr]
        read_status = reader.wait()
        with contextlib.suppress(BrokenPipeError):
            if read_status == 0:
                stdin.write(f"{forward}COMMIT;\n".encode())
            # Otherwise psql's input ends inside the transaction: the server rolls it back.
            stdin.close()
        load_status = loader.wait()
        if read_status or load_status:
            errors = b""
            for stream in (dump_errors, load_errors):
                stream.seek(0)
                errors += stream.read()
            raise BackupError(
                "the restore failed and the database was not changed (one transaction): "
                + errors.decode(errors="replace").strip()[-2000:]
            )
    with db.connect(autocommit=True) as connection:
        connection.execute("ANALYZE")  # the planner's statistics are not in a dump


def restore_sqlite(db: Database, copy: Path) -> None:
    """Put the copy in place of the database file (atomically); its old journal goes too."""
    target = Path(db.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(copy, staged)
    check = sqlite3.connect(staged)
    try:
        verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        check.close()
    if verdict != "ok":
        staged.unlink()
        raise BackupError(f"the archive's SQLite database is damaged ({verdict}): not restored")
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(staged, target)


def _members_under(tar: tarfile.TarFile, prefix: str) -> list[tarfile.TarInfo]:
    return [m for m in tar.getmembers() if m.name == prefix or m.name.startswith(prefix + "/")]


def _swap_in(staged: Path, target: Path, stamp: str, keep_old: bool) -> Path | None:
    """Put the `staged` folder at `target`; the previous one is deleted, or kept aside (its
    path returned) when `keep_old`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = None
    if target.exists() or target.is_symlink():
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        target.rename(aside)
    staged.rename(target)
    if aside is not None and not keep_old:
        if aside.is_symlink() or aside.is_file():
            aside.unlink()
        else:
            shutil.rmtree(aside)
        return None
    return aside


def restore_reports(tar: tarfile.TarFile, reports_dir: Path, stamp: str) -> None:
    reports_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=reports_dir.parent, prefix=f".{reports_dir.name}-"))
    try:
        tar.extractall(staging, members=_members_under(tar, REPORTS), filter="data")
        (staging / REPORTS).mkdir(exist_ok=True)
        _swap_in(staging / REPORTS, reports_dir, stamp, keep_old=False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_secrets(tar: tarfile.TarFile, env_file: Path, ca_dir: Path, stamp: str) -> None:
    """.env and the local CA from the archive; the current ones kept aside (mode 0600/0700),
    the certificate the old CA signed removed so that the next start signs one with this CA."""
    names = {m.name for m in tar.getmembers()}
    if SECRET_ENV in names:
        if env_file.exists():
            aside = env_file.with_name(f"{env_file.name}.before-restore-{stamp}")
            shutil.copy2(env_file, aside)
            aside.chmod(0o600)
            log(f"the previous {env_file.name} is kept as {aside}")
        data = tar.extractfile(SECRET_ENV).read()  # type: ignore[union-attr]
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        env_file.chmod(0o600)
        log(f"restored {env_file} (it takes effect at the next start)")
    ca_members = _members_under(tar, SECRET_CA)
    if ca_members:
        ca_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=ca_dir.parent, prefix=".ca-"))
        try:
            tar.extractall(staging, members=ca_members, filter="data")
            staged = staging / SECRET_CA
            staged.chmod(0o700)
            for path in staged.iterdir():
                path.chmod(0o600)
            aside = _swap_in(staged, ca_dir, stamp, keep_old=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for name in ("cert.pem", "key.pem", "names.json"):
            (ca_dir.parent / name).unlink(missing_ok=True)
        log(
            f"restored the local CA into {ca_dir}"
            + (f" (the previous one: {aside})" if aside else "")
        )


def restore(
    archive: Path, *, with_secrets: bool = False, env_file: Path | None = None
) -> dict[str, Any]:
    """Bring the archive back: the database, then the reports, then (asked) the secrets."""
    settings = _settings()
    manifest = read_manifest(archive)
    schema_check(manifest)
    db = Database.configured()
    if manifest["database"]["engine"] != db.engine:
        raise Refused(f"a {manifest['database']['engine']} archive for a {db.engine} database")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="chatplatform-restore-") as work,
        tarfile.open(archive) as tar,
    ):
        member = manifest["database"]["file"]
        tar.extract(member, work, filter="data")
        log(f"restoring the {db.describe()} from {archive.name}")
        if db.engine == "postgresql":
            restore_postgres(db, Path(work) / member)
        else:
            restore_sqlite(db, Path(work) / member)
        reports_dir = Path(settings.REPORTS_DIR)
        restore_reports(tar, reports_dir, stamp)
        log(f"restored the reports into {reports_dir}")
        if with_secrets:
            restore_secrets(
                tar, env_file or ROOT / ".env", Path(settings.VAR_DIR) / "tls" / "ca", stamp
            )
        elif manifest["secrets"]:
            log("the archive's secrets were not restored (--with-secrets restores them)")
    seconds = time.monotonic() - started
    log(f"restored {archive.name} in {seconds:.1f} s")
    return manifest


# ----------------------------------------------------------------------------------------- cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launchers.backup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("create", help="write one archive")
    make.add_argument("--dir", type=Path, required=True, help="the folder of the archives")
    for command in (make, commands.add_parser("plan"), commands.add_parser("restore")):
        if command is not make:
            command.add_argument("archive", type=Path)
        command.add_argument("--with-secrets", action="store_true", help=".env and the local CA")
        command.add_argument(
            "--env-file",
            type=Path,
            default=Path(os.environ.get("BACKUP_ENV_FILE") or ROOT / ".env"),
            help="the .env --with-secrets saves or restores (default: the project's)",
        )
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            archive, _ = create(args.dir, with_secrets=args.with_secrets, env_file=args.env_file)
            print(archive)
        elif args.command == "plan":
            print(plan(args.archive, with_secrets=args.with_secrets))
        else:
            restore(args.archive, with_secrets=args.with_secrets, env_file=args.env_file)
    except Refused as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 3
    except BackupError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

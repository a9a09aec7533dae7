"""Backup and restore (scripts/backup.sh, scripts/restore.sh, launchers/backup.py).

The restore drill: make prod's processes (testing.production.ProductionStack) on a database of
their own write data (the demo, a join whose admin email reaches the inbox, a message whose live
event reaches Centrifugo, and one join whose email and events are still pending because the
broker was down); backup.sh archives it while they run; the database is dropped; restore.sh
(answered "y") brings it back. The same rows come back, and a second stack (a new SMTP server and
a new Centrifugo, so any repeat would show) started on the restored database after the sweeper
ran sends only what was pending in the backup, once: nothing delivered is sent again, and the
totals of /metrics and /api/stats/ are those of the backup. It prints its timings (-s shows them).

Around it: a restore asks first (no "y", nothing changes), refuses an archive of a newer schema,
keeps secrets out unless asked, stops a running make prod and starts it again, and make up's
SQLite database goes through the same scripts.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import ssl
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from launchers.backup import read_manifest
from testing import free_port, production_env, wait_until
from testing.processes import database_url
from testing.production import ProductionStack
from tests.support import emitted

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL only (DATABASE_URL=postgres://...): the drill creates and drops a"
        " database of its own on the server, as make prod's restore does",
    ),
]

# The tables compared row for row before the backup and after the restore.
COMPARED = [
    "auth_user",
    "accounts_profile",
    "authtoken_token",
    "chats_chat",
    "chats_membership",
    "chats_membershipevent",
    "chats_message",
    "chats_invitation",
    "chats_notification",
    "chats_publication",
    "core_tally",
    "django_migrations",
]
IN_FLIGHT = ("pending", "sending")
# The totals of /api/stats/ (its other numbers are windows and gauges: the last hour, in flight).
API_TOTALS = (
    "users",
    "chats",
    "messages_total",
    "notifications_sent",
    "notifications_failed",
    "notifications_folded",
    "notifications_cancelled",
)

# Run in the drill's database by make prod's settings (`manage.py shell -c`): the demo, and a
# chat of four consenting people of whom olga (owner) and adam (admin) act through the API.
SETUP = """
import json
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from accounts import profiles
from accounts.models import AddPolicy
from chats import services
from chats.models import Role

call_command("seed_demo", stdout=open("/dev/null", "w"))
User = get_user_model()
people = {}
for name in ("olga", "adam", "nina", "pete"):
    user = User.objects.create_user(name, f"{name}@example.com", "drill-password-1234")
    profiles.update(user.pk, confirmed_email=user.email, who_can_add=AddPolicy.EVERYONE)
    people[name] = user.pk
chat = services.create_chat(title="Restore drill", creator_id=people["olga"])
services.add_member(
    chat_id=chat.pk, actor_id=people["olga"], user_id=people["adam"], role=Role.ADMIN
)
print("SETUP " + json.dumps({
    "chat": chat.pk,
    "people": people,
    "olga": Token.objects.get_or_create(user_id=people["olga"])[0].key,
}))
"""

# With the broker unreachable (and no publishing from the request's process): pete's join and
# olga's message are saved, the join's email and the message's live events stay pending (the
# sweeper's work); then the statistics snapshot that /metrics and /api/stats/ read.
PENDING = """
from chats import services
from metrics.snapshot import refresh_snapshot
services.add_member(chat_id={chat}, actor_id={olga}, user_id={pete})
services.post_message(chat_id={chat}, author_id={olga}, text="Pending at the backup")
refresh_snapshot()
"""

# After the restore: beat's sweeper, inline (every row in flight is stale here).
SWEEP = """
import json
from chats.tasks import requeue_stale_outbox_task
print("SWEPT " + json.dumps(requeue_stale_outbox_task()))
"""

# Once all is delivered: the sweeper finds nothing more; the snapshot /metrics then reads.
SWEEP_AGAIN = (
    SWEEP
    + """
from metrics.snapshot import refresh_snapshot
refresh_snapshot()
"""
)


# ----------------------------------------------------------------------------------- helpers


def server_url(name: str) -> str:
    """This run's PostgreSQL server, database `name`."""
    return urlunsplit(urlsplit(database_url())._replace(path=f"/{name}"))


def admin_connection():
    import psycopg

    return psycopg.connect(server_url("postgres"), autocommit=True)


def drop_database(name: str) -> None:
    with admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database(name: str) -> str:
    drop_database(name)
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server_url(name)


def query(url: str, sql: str, *params: object) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()


def table_rows(url: str) -> dict[str, list[tuple]]:
    return {table: query(url, f"SELECT * FROM {table} ORDER BY 1") for table in COMPARED}  # noqa: S608


def in_flight(url: str) -> int:
    return sum(
        query(url, f"SELECT count(*) FROM {table} WHERE status IN ('pending', 'sending')")[0][0]  # noqa: S608
        for table in ("chats_notification", "chats_publication")
    )


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(PYTHON), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"manage.py {args[:2]}: {done.stdout}\n{done.stderr}"
    return done


def script(
    name: str, *args: str, env: dict[str, str], answer: str = ""
) -> tuple[subprocess.CompletedProcess[str], float]:
    """scripts/<name> with `answer` on standard input; its result and how long it took."""
    started = time.monotonic()
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        env=env,
        input=answer,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done, time.monotonic() - started


def archive_from(done: subprocess.CompletedProcess[str]) -> Path:
    assert done.returncode == 0, f"backup.sh failed:\n{done.stdout}\n{done.stderr}"
    return Path(done.stdout.strip().splitlines()[-1])


def script_env(db_url: str, var: Path, **extra: object) -> dict[str, str]:
    """What backup.sh and restore.sh get: make prod's profile (prod-env.sh) on this database,
    its state in `var`, archives in `var`/../backups, a deployment's secrets, no broker."""
    return production_env(
        DATABASE_URL=db_url,
        PROD_VAR_DIR=var,
        REPORTS_DIR=var / "reports",
        BACKUP_DIR=var.parent / "backups",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        LOG_LEVEL="ERROR",
        **extra,
    )


def a_report(reports: Path) -> None:
    folder = reports / "20261201T000000Z"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<h1>report of the drill</h1>")
    (reports / "latest").symlink_to(folder.name)


def totals(stack: ProductionStack) -> dict[str, float]:
    """Every counter of /metrics (sample and labels) and the numbers of /api/stats/."""
    request = urllib.request.Request(  # noqa: S310 - local services
        stack.web.url + "/metrics",
        headers={
            "Authorization": f"Bearer {stack.env['METRICS_BEARER_TOKEN']}",
            "X-Forwarded-Proto": "https",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        if family.type == "counter" and family.name.startswith("chatplatform_"):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = sample.value
    stats = https_json(stack, "/api/stats/", token=f"Bearer {stack.env['STATS_READ_TOKEN']}")
    found.update({f"api/stats/{key}": stats[key] for key in API_TOTALS})
    return found


def https_json(stack: ProductionStack, path: str, token: str, body: dict | None = None) -> dict:
    context = ssl.create_default_context(cafile=str(stack.ca_file))
    request = urllib.request.Request(  # noqa: S310 - local services
        stack.url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=20) as response:  # noqa: S310
        assert response.status in (200, 201), response.status
        return json.load(response)


def history(stack: ProductionStack, channel: str) -> list[dict]:
    """What Centrifugo keeps of `channel` (chat channels keep 100 for an hour)."""
    request = urllib.request.Request(  # noqa: S310 - local services
        stack.centrifugo.api_url + "/history",
        data=json.dumps({"channel": channel, "limit": 100}).encode(),
        headers={"X-API-Key": stack.centrifugo.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
        return json.load(response).get("result", {}).get("publications", [])


# ------------------------------------------------------------------------------------- drill


@pytest.fixture(scope="module")
def drill(redis_service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from chatplatform.celery import app as celery_app

    celery_app.control.purge()  # another module's tasks must not reach this drill's workers
    name = f"restore_drill_{os.getpid()}"
    db_url = create_database(name)
    work = tmp_path_factory.mktemp("drill")
    var = work / "var"
    a_report(var / "reports")
    env = script_env(db_url, var, PROD_START_COMMAND=f"touch {work / 'started'}")
    overrides = {"DATABASE_URL": db_url, "WRITE_RATE_LIMIT": "", "EMAIL_RECIPIENT_LIMIT": ""}
    manage(production_env(**overrides), "migrate", "--noinput", "-v", "0")
    result: dict = {"url": db_url, "var": var, "env": env, "work": work}
    try:
        with ProductionStack(redis_service, **overrides) as stack:
            setup = emitted(manage(stack.env, "shell", "-c", SETUP), "SETUP")
            chat, people, token = setup["chat"], setup["people"], f"Token {setup['olga']}"
            https_json(stack, f"/api/chats/{chat}/members/", token, {"user_id": people["nina"]})
            https_json(stack, f"/api/chats/{chat}/messages/", token, {"text": "Before the backup"})
            wait_until(lambda: in_flight(db_url) == 0, 60, "every email and live event delivered")
            wait_until(
                lambda: any("nina" in (m.subject or "") for m in stack.inbox.messages()),
                30,
                "the email about nina's join",
            )
            dead_broker = {
                **stack.env,
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
                "OUTBOX_HANDOVER_TIMEOUT": "1",
                "CENTRIFUGO_PUBLISH_AFTER_COMMIT": "false",
            }
            code = PENDING.format(chat=chat, olga=people["olga"], pete=people["pete"])
            manage(dead_broker, "shell", "-c", code)
            result.update(
                chat=chat,
                people=people,
                before=table_rows(db_url),
                inbox_before=[m.message_id for m in stack.inbox.messages()],
                history_before=history(stack, f"chat:{chat}"),
                totals_before=totals(stack),
            )
            backup, result["backup_seconds"] = script("backup.sh", env=env)
            result["archive"] = archive_from(backup)
        drop_database(name)
        result["dropped"] = query(
            server_url("postgres"),
            "SELECT count(*) FROM pg_database WHERE datname = %s",
            name,
        )[0][0]
        restore, result["restore_seconds"] = script(
            "restore.sh", str(result["archive"]), env=env, answer="yes\n"
        )
        result["restore"] = restore
        assert restore.returncode == 0, f"restore.sh failed:\n{restore.stdout}\n{restore.stderr}"
        result["after"] = table_rows(db_url)
        with ProductionStack(redis_service, **overrides, OUTBOX_STALE_SECONDS="0") as stack:
            result["swept"] = emitted(manage(stack.env, "shell", "-c", SWEEP), "SWEPT")
            wait_until(lambda: in_flight(db_url) == 0, 60, "the pending email and events sent")
            wait_until(lambda: stack.inbox.messages(), 30, "the pending email in the new inbox")
            result["swept_again"] = emitted(manage(stack.env, "shell", "-c", SWEEP_AGAIN), "SWEPT")
            time.sleep(1)  # a second copy, if anything queued one, would have arrived by now
            result["inbox_after"] = [m.message_id for m in stack.inbox.messages()]
            channels = {
                row[0] for row in query(db_url, "SELECT DISTINCT channel FROM chats_publication")
            }
            result["history_after"] = {
                channel: history(stack, channel)
                for channel in channels
                if channel.startswith("chat:")
            }
            result["totals_after"] = totals(stack)
            result["final"] = table_rows(db_url)
        size = result["archive"].stat().st_size
        loaded = re.search(r"restored \S+ in ([\d.]+) s", restore.stderr)
        print(
            f"\nrestore drill: backup {result['backup_seconds']:.1f} s, restore"
            f" {result['restore_seconds']:.1f} s (the database and reports"
            f" {loaded[1] if loaded else '?'} s; the rest: the plan, migrate, Python starts),"
            f" archive {size / 1024:.0f} KiB; {len(result['before']['chats_message'])} messages,"
            f" {len(result['before']['auth_user'])} users"
        )
        yield result
    finally:
        drop_database(name)


def columns(url: str, table: str) -> list[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " ORDER BY ordinal_position"
    )
    return [row[0] for row in query(url, sql, table)]


def statuses(rows: list[tuple], url: str, table: str) -> dict[int, str]:
    """id -> status of an outbox table's rows."""
    status = columns(url, table).index("status")
    return {row[0]: row[status] for row in rows}


def test_the_database_was_dropped_and_the_same_rows_came_back(drill: dict) -> None:
    assert drill["dropped"] == 0
    for table in COMPARED:
        assert drill["after"][table] == drill["before"][table], table
    assert len(drill["before"]["chats_message"]) > 1000  # the demo's history, and ours


def test_the_restore_said_what_it_overwrites_and_did_not_start_make_prod(drill: dict) -> None:
    out = drill["restore"].stdout + drill["restore"].stderr
    assert "does not exist: it is created" in out
    assert re.search(r"messages\s+-\s+\d+", out)
    assert "Overwrite? [y/N] yes" in out
    assert "make prod started again" not in out
    assert not (drill["work"] / "started").exists()
    reports = drill["var"] / "reports"
    assert (reports / "latest" / "index.html").read_text() == "<h1>report of the drill</h1>"


def test_nothing_delivered_is_sent_again(drill: dict) -> None:
    """Delivered rows stay delivered (same attempts); the new stack's inbox and Centrifugo got
    only what was pending in the backup, once."""
    url = drill["url"]
    for table in ("chats_notification", "chats_publication"):
        before = statuses(drill["before"][table], url, table)
        final = statuses(drill["final"][table], url, table)
        delivered = {pk for pk, status in before.items() if status not in IN_FLIGHT}
        pending = {pk for pk, status in before.items() if status in IN_FLIGHT}
        assert pending, f"{table}: the drill left nothing pending in the backup"
        assert {pk: final[pk] for pk in delivered} == {pk: before[pk] for pk in delivered}
        assert {final[pk] for pk in pending} == {"sent"}
        untouched = {row[0]: row for row in drill["before"][table] if row[0] in delivered}
        assert {row[0]: row for row in drill["final"][table] if row[0] in delivered} == untouched
    pending_emails = [
        pk
        for pk, status in statuses(
            drill["before"]["chats_notification"], url, "chats_notification"
        ).items()
        if status in IN_FLIGHT
    ]
    assert sorted(drill["inbox_after"]) == sorted(
        f"<notification-{pk}@chatplatform.local>" for pk in pending_emails
    )
    assert not set(drill["inbox_after"]) & set(drill["inbox_before"])
    assert drill["swept"]["notifications"] == len(pending_emails)
    assert drill["swept_again"] == {"notifications": 0, "publications": 0}


def test_no_live_event_is_published_twice(drill: dict) -> None:
    url = drill["url"]
    rows = drill["before"]["chats_publication"]
    status = statuses(rows, url, "chats_publication")
    names = columns(url, "chats_publication")
    channel, data = names.index("channel"), names.index("data")
    pending = sorted(
        json.dumps(row[data], sort_keys=True)
        for row in rows
        if status[row[0]] in IN_FLIGHT and row[channel].startswith("chat:")
    )
    published = sorted(
        json.dumps(item["data"], sort_keys=True)
        for items in drill["history_after"].values()
        for item in items
    )
    assert pending, "nothing of the pending join was for a chat channel"
    assert published == pending
    assert drill["history_before"], "the first stack's Centrifugo got no live event"


def test_the_totals_continue_from_the_backup(drill: dict) -> None:
    """Every counter of /metrics and total of /api/stats/ is the backup's after the restore,
    plus what was pending in it and sent since: none fell, none counted a delivery twice."""
    before, after = drill["totals_before"], drill["totals_after"]
    assert {name for name in before if name.startswith("chatplatform_")}, before
    assert {
        name: after.get(name, -1) for name in before if after.get(name, -1) < before[name]
    } == {}
    url = drill["url"]
    pending = {
        table: sum(
            status in IN_FLIGHT for status in statuses(drill["before"][table], url, table).values()
        )
        for table in ("chats_notification", "chats_publication")
    }
    sent = {
        "chatplatform_notifications_done_total{status=sent}": pending["chats_notification"],
        "api/stats/notifications_sent": pending["chats_notification"],
        "chatplatform_publications_done_total{status=sent}": pending["chats_publication"],
    }
    assert {name: after[name] - before[name] for name in sent} == sent
    unchanged = [name for name in before if name not in sent]
    assert {name: after[name] for name in unchanged} == {name: before[name] for name in unchanged}


def test_a_restore_asks_first(drill: dict) -> None:
    """No answer, or anything but y/yes: refused, nothing changed (a row deleted since stays
    deleted)."""
    url = drill["url"]
    query_one = "SELECT count(*) FROM chats_message"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM chats_message WHERE id = (SELECT min(id) FROM chats_message)")
    count = query(url, query_one)[0][0]
    for answer in ("", "n\n", "later\n"):
        refused, _ = script("restore.sh", str(drill["archive"]), env=drill["env"], answer=answer)
        assert refused.returncode == 1, refused.stderr
        assert "Overwrite? [y/N]" in refused.stderr
        assert "not restored: nothing was changed" in refused.stderr
        assert query(url, query_one)[0][0] == count


def test_an_archive_of_a_newer_schema_is_refused(drill: dict, tmp_path: Path) -> None:
    """A migration this code does not have: refused before the question, naming it."""
    newer = tmp_path / "chatplatform-newer.tar"
    with tarfile.open(drill["archive"]) as source, tarfile.open(newer, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            if member.name == "manifest.json":
                manifest = json.load(data)
                manifest["migrations"].append("chats.9999_from_the_future")
                manifest["version"] = "9.0.0"
                raw = json.dumps(manifest).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)
            target.addfile(member, data)
    refused, _ = script("restore.sh", str(newer), env=drill["env"], answer="yes\n")
    assert refused.returncode == 3, refused.stderr
    assert "chats.9999_from_the_future" in refused.stderr
    assert "newer version (v9.0.0" in refused.stderr
    assert "Overwrite?" not in refused.stderr


@pytest.fixture
def secrets(drill: dict, tmp_path: Path) -> dict:
    """A .env with a recognisable secret and a local CA under the profile's VAR_DIR."""
    marker = "drill-secret-" + os.urandom(8).hex()
    env_file = tmp_path / "env"
    env_file.write_text(f"DJANGO_SECRET_KEY={marker}\n")
    ca = drill["var"] / "tls" / "ca"
    ca.mkdir(parents=True, exist_ok=True)
    (ca / "rootCA.pem").write_text("-----BEGIN CERTIFICATE----- drill\n")
    (ca / "rootCA-key.pem").write_text(f"-----BEGIN PRIVATE KEY----- {marker}\n")
    return {"marker": marker, "env_file": env_file, "ca": ca}


def test_secrets_only_when_asked(drill: dict, secrets: dict) -> None:
    env = {**drill["env"], "BACKUP_ENV_FILE": str(secrets["env_file"])}
    plain = archive_from(script("backup.sh", env=env)[0])
    with tarfile.open(plain) as tar:
        names = tar.getnames()
    assert not [n for n in names if "secret" in n or n.endswith((".env", "key.pem", "rootCA.pem"))]
    assert secrets["marker"].encode() not in plain.read_bytes()
    assert read_manifest(plain)["secrets"] == []

    done, _ = script("backup.sh", "--with-secrets", env=env)
    with_secrets = archive_from(done)
    assert "THIS ARCHIVE HOLDS SECRETS" in done.stderr
    assert with_secrets.stat().st_mode & 0o777 == 0o600
    with tarfile.open(with_secrets) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("secrets/.env").read().decode().strip().endswith(secrets["marker"])
    assert {"secrets/.env", "secrets/tls-ca/rootCA.pem", "secrets/tls-ca/rootCA-key.pem"} <= names


def test_a_running_make_prod_is_stopped_and_started_again(
    drill: dict, secrets: dict, tmp_path: Path
) -> None:
    """A stand-in for make prod's honcho (its pid in $VAR_DIR/prod.pid) is stopped before the
    restore, PROD_START_COMMAND runs after it; --with-secrets puts .env and the CA back, the
    current ones kept aside and the certificate of the old CA removed; the sequences of the
    database replaced do not go back."""
    env = {**drill["env"], "BACKUP_ENV_FILE": str(secrets["env_file"])}
    archive = archive_from(script("backup.sh", "--with-secrets", env=env)[0])
    secrets["env_file"].write_text("DJANGO_SECRET_KEY=the-current-one\n")
    (secrets["ca"] / "rootCA-key.pem").write_text("the current CA key\n")
    (secrets["ca"].parent / "cert.pem").write_text("signed by the current CA\n")
    # Ids used since the backup (here: a message id far ahead) are never handed out again.
    query(drill["url"], "SELECT setval('chats_message_id_seq', 999999)")
    honcho = subprocess.Popen(
        ["bash", "-c", 'exec -a "honcho -f Procfile.prod -e /dev/null start" sleep 300'],
        start_new_session=True,
    )
    started = tmp_path / "started"
    try:
        (drill["var"] / "prod.pid").write_text(f"{honcho.pid}\n")
        env["PROD_START_COMMAND"] = f'echo "$VAR_DIR" > {started}'
        done, _ = script("restore.sh", "--with-secrets", str(archive), env=env, answer="y\n")
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert honcho.wait(5) == -signal.SIGTERM
        assert f"make prod  running (pid {honcho.pid})" in done.stdout
        assert "make prod started again in the background" in done.stderr
        wait_until(started.exists, 10, "PROD_START_COMMAND to run")
        assert started.read_text().strip() == str(drill["var"])
    finally:
        honcho.kill()
        honcho.wait()
        (drill["var"] / "prod.pid").unlink(missing_ok=True)
    assert query(drill["url"], "SELECT last_value FROM chats_message_id_seq") == [(999999,)]
    assert secrets["marker"] in secrets["env_file"].read_text()
    assert secrets["env_file"].stat().st_mode & 0o777 == 0o600
    kept = list(secrets["env_file"].parent.glob("env.before-restore-*"))
    assert [path.read_text() for path in kept] == ["DJANGO_SECRET_KEY=the-current-one\n"]
    assert secrets["marker"] in (secrets["ca"] / "rootCA-key.pem").read_text()
    assert not (secrets["ca"].parent / "cert.pem").exists()


def test_make_ups_sqlite_database(tmp_path: Path) -> None:
    """BACKUP_PROFILE=up: SQLite's online backup in, the file put back out."""
    import sqlite3

    var = tmp_path / "var"
    database = var / "db.sqlite3"
    var.mkdir()
    env = {
        **production_env(
            DATABASE_URL=f"sqlite:///{database}",
            VAR_DIR=var,
            REPORTS_DIR=var / "reports",
            BACKUP_DIR=tmp_path / "backups",
            BACKUP_PROFILE="up",
            DJANGO_DEBUG="true",
        )
    }
    manage(env, "migrate", "--noinput", "-v", "0")
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO core_tally (name, value) VALUES ('drill', 41)")
    a_report(var / "reports")
    archive = archive_from(script("backup.sh", env=env)[0])
    with sqlite3.connect(database) as db:
        db.execute("UPDATE core_tally SET value = 0 WHERE name = 'drill'")
    done, _ = script("restore.sh", str(archive), env=env, answer="y\n")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT value FROM core_tally WHERE name = 'drill'").fetchone() == (41,)
    assert read_manifest(archive)["database"]["engine"] == "sqlite"

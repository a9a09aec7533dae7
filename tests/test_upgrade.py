"""Releases: CHANGELOG.md agrees with pyproject.toml, scripts/release.sh tags only a release, and
starting this code migrates a database written, with data in it, by the previous release.

The previous release is read from CHANGELOG.md: the newest released entry that names its
`Commit:` (tags may not travel to CI's clone; the commit is in the history). The entry of the
release being tagged cannot name its own commit, so release.sh writes it into the next commit;
until then the release before it is the one upgraded from.

The upgrade test `git archive`s that commit, runs its `manage.py migrate`, `seed_demo` and a
script of its own (a message posted, an email and the message's live events delivered) on a
fresh PostgreSQL database, then this code's `manage.py migrate`, and compares what each code
reads: the same users, chats, memberships and messages, and nothing delivered picked to be sent
again. Every process gets a Redis and a Centrifugo where nobody listens: nothing leaves.
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from packaging.version import Version

from testing import free_port, script_env
from testing.processes import database_url
from tests.support import emitted

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\S+))?[ \t]*$", re.M)
# As scripts/release.sh checks it (semver.org's grammar, shortened).
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
COMMIT = re.compile(r"^Commit: (?P<commit>[0-9a-f]{40})[ \t]*$", re.M)
# Written by the old code; accents and an emoji, as users type.
OLD_TEXT = "Écrit avant la mise à jour 🚀"

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only (DATABASE_URL=postgres://...): the upgrade test creates a database"
    " of its own on the server, as deployments run",
)


@dataclass(frozen=True)
class Entry:
    """One `## [version] - date` section of CHANGELOG.md."""

    version: str
    date: str | None
    body: str

    @property
    def released(self) -> bool:
        return self.version != "Unreleased"

    @property
    def commit(self) -> str | None:
        found = COMMIT.search(self.body)
        return found["commit"] if found else None


def changelog(text: str | None = None) -> list[Entry]:
    """CHANGELOG.md's entries, newest first."""
    text = (ROOT / "CHANGELOG.md").read_text() if text is None else text
    headings = list(HEADING.finditer(text))
    ends = [h.start() for h in headings[1:]] + [len(text)]
    return [
        Entry(h["version"], h["date"], text[h.end() : end])
        for h, end in zip(headings, ends, strict=True)
    ]


def previous_release() -> Entry:
    """The release this code upgrades from: the newest released entry that names its commit."""
    named = [entry for entry in changelog() if entry.released and entry.commit]
    assert named, "CHANGELOG.md names no released commit ('Commit: <40 hex>' under an entry)"
    return named[0]


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def git(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """`git args` in `cwd`, which must succeed; its output."""
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


# ------------------------------------------------------------------------------------ fast tests


def test_changelog_agrees_with_pyproject() -> None:
    """Unreleased may only head the list; the released entries are dated, newest first, none
    newer than pyproject.toml's version (equal to it when nothing is unreleased), and each
    commit they name is in this history."""
    entries = changelog()
    assert entries, "CHANGELOG.md has no '## [...]' entry"
    assert all(entry.released for entry in entries[1:]), "[Unreleased] must be the first entry"
    released = [entry for entry in entries if entry.released]
    for entry in released:
        assert SEMVER.match(entry.version), f"[{entry.version}] is not a semantic version"
        assert entry.date, f"[{entry.version}] has no date: '## [{entry.version}] - YYYY-MM-DD'"
        date.fromisoformat(entry.date)
        if entry.commit:  # exits 1 when it is not
            git("merge-base", "--is-ancestor", entry.commit, "HEAD")
    versions = [Version(entry.version) for entry in released]
    assert versions == sorted(versions, reverse=True), "released entries must be newest first"
    assert len(set(versions)) == len(versions), "a version has two entries"
    assert SEMVER.match(pyproject_version()), "pyproject.toml's version is not semver"
    current = Version(pyproject_version())
    if entries[0].released:
        assert versions[0] == current, f"pyproject.toml says {current}, CHANGELOG {versions[0]}"
    else:
        assert versions[0] <= current, f"CHANGELOG has {versions[0]}, newer than {current}"
    # Every release but the newest names its commit (the newest may be the one being tagged).
    assert all(entry.commit for entry in released[1:]), "a released entry names no Commit:"
    assert previous_release()


def test_release_script_refuses_what_is_not_a_release(tmp_path: Path) -> None:
    """In a clone: a version that is not semver, one with no CHANGELOG entry, a dirty tree and
    an existing tag are refused, naming why; a release is tagged and its commit written down."""
    clone = tmp_path / "clone"
    git("clone", "-q", str(ROOT), str(clone))
    for name in ("scripts/release.sh", "scripts/lib.sh"):  # this tree's, committed or not
        (clone / name).write_bytes((ROOT / name).read_bytes())
    pyproject = clone / "pyproject.toml"
    pyproject.write_text(
        re.sub(r'^version = ".*"$', 'version = "9.9.0"', pyproject.read_text(), count=1, flags=re.M)
    )
    (clone / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [9.8.0] - 2026-12-01\n"
    )
    who = {"NAME": "Release Test", "EMAIL": "release@example.com"}
    env = dict(os.environ)
    env.update(
        {
            f"GIT_{role}_{key}": value
            for role in ("AUTHOR", "COMMITTER")
            for key, value in who.items()
        }
    )

    def commit_all() -> None:
        git("add", "-A", cwd=clone)
        git("commit", "-qm", "release test", cwd=clone, env=env)

    def release(version: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "scripts/release.sh", version],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    commit_all()
    for version, why in (
        ("9.9", "not a semantic version"),
        ("v9.9.0", "not a semantic version"),
        ("9.9.1", "pyproject.toml says version 9.9.0"),
        ("9.9.0", "CHANGELOG.md has no '## [9.9.0] - YYYY-MM-DD' entry"),
    ):
        refused = release(version)
        assert refused.returncode == 1 and why in refused.stderr, (version, refused.stderr)

    changelog_path = clone / "CHANGELOG.md"
    changelog_path.write_text(
        changelog_path.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n\n## [9.9.0]\n")
    )
    commit_all()
    assert "has no date" in release("9.9.0").stderr
    changelog_path.write_text(changelog_path.read_text().replace("[9.9.0]", "[9.9.0] - 2026-12-08"))
    (clone / "stray.txt").write_text("not committed")
    assert "not clean" in release("9.9.0").stderr
    (clone / "stray.txt").unlink()
    commit_all()

    tagged = release("9.9.0")
    head = git("rev-parse", "HEAD", cwd=clone)
    assert tagged.returncode == 0, tagged.stderr
    assert git("rev-parse", "v9.9.0^{commit}", cwd=clone) == head
    assert "git push origin HEAD v9.9.0" in tagged.stdout
    entry = next(e for e in changelog(changelog_path.read_text()) if e.version == "9.9.0")
    assert (entry.date, entry.commit) == ("2026-12-08", head)
    commit_all()
    assert "tag v9.9.0 exists already" in release("9.9.0").stderr


# ------------------------------------------------------------------------------- the upgrade

# Run by both codes (`manage.py shell -c`): what each reads through its own models.
SNAPSHOT = """
import json
from django.apps import apps
from django.contrib.auth import get_user_model

def rows(model, *fields):
    return list(model.objects.order_by("pk").values(*fields))

chats = apps.get_app_config("chats")
print("SNAPSHOT " + json.dumps({
    "users": rows(get_user_model(), "id", "username", "email", "password", "is_staff", "is_active"),
    "profiles": rows(
        apps.get_model("accounts", "Profile"), "user_id", "confirmed_email", "who_can_add",
        "email_off",
    ),
    "chats": rows(chats.get_model("Chat"), "id", "title", "created_by_id", "is_demo"),
    "memberships": rows(chats.get_model("Membership"), "id", "chat_id", "user_id", "role"),
    "messages": rows(
        chats.get_model("Message"), "id", "chat_id", "author_id", "text", "created_at",
        "deleted_at",
    ),
    "invitations": rows(chats.get_model("Invitation"), "id", "chat_id", "user_id", "status"),
    "notifications": rows(
        chats.get_model("Notification"), "id", "event", "recipient_id", "status", "done_at"
    ),
    "publications": rows(chats.get_model("Publication"), "id", "channel", "status", "done_at"),
}, default=str))
"""

# Run by the previous release only, written against its code (read its chats/models.py and
# core/outbox.py): a message through its services (which records its live events), then that
# message's events and one of the demo's pending emails delivered as its workers mark them.
OLD_WRITES = f"""
import json
import chats
from chats import services
from chats.models import Message, Notification, Publication
from core import outbox

welcome = Message.objects.order_by("-pk").first()
before = set(Publication.objects.values_list("id", flat=True))
message = services.post_message(
    chat_id=welcome.chat_id, author_id=welcome.author_id, text={OLD_TEXT!r}
)
published = sorted(set(Publication.objects.values_list("id", flat=True)) - before)
email = Notification.objects.filter(status="pending").order_by("pk").first()
outbox.mark_done(Publication, published)
outbox.mark_done(Notification, [email.pk])
print("WRITTEN " + json.dumps({{
    "code": chats.__file__, "message": message.pk, "publications": published,
    "notification": email.pk,
}}))
"""

# Run by this code after the upgrade: what the sweeper would queue (every row still pending
# counts as stale: OUTBOX_STALE_SECONDS=0), the totals /metrics shows, and alice's password.
NEW_READS = """
import json
from django.conf import settings
from django.contrib.auth import get_user_model
from chats.models import Notification, Publication
from core import outbox

alice = get_user_model().objects.get(username="alice")
print("READ " + json.dumps({
    "stale": {
        "notifications": outbox.stale_ids(Notification),
        "publications": outbox.stale_ids(Publication),
    },
    "backlog": {
        "notifications": outbox.backlog(Notification),
        "publications": outbox.backlog(Publication),
    },
    "alice_password_ok": alice.check_password(settings.DEMO_PASSWORD),
}))
"""


def manage(
    code: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`manage.py args` of the code in `code` with the project's .venv; `check`: it must exit 0."""
    done = subprocess.run(
        [str(PYTHON), "manage.py", *args],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"{code}: manage.py {args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def upgrade_database() -> Iterator[str]:
    """A fresh database on this run's PostgreSQL server; terminated and dropped afterwards."""
    import psycopg

    parts = urlsplit(database_url())
    server = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"upgrade_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="module")
def upgrade(upgrade_database: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The previous release writes its data, then this code migrates it; what each read."""
    release = previous_release()
    old = tmp_path_factory.mktemp("previous-release")
    archive = old / "code.tar"
    git("archive", "--format=tar", f"--output={archive}", release.commit)
    with tarfile.open(archive) as tar:
        tar.extractall(old / "code", filter="data")
    code = old / "code"
    env = {
        **script_env(tmp_path_factory.mktemp("var")),
        "DATABASE_URL": upgrade_database,
        "DJANGO_DEBUG": "true",
        # The demo's password, whatever a developer's .env says (this code reads that .env).
        "DEMO_PASSWORD": "upgrade-demo-password",
        "CENTRIFUGO_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "LOG_LEVEL": "ERROR",
    }

    manage(code, env, "migrate", "--noinput")
    manage(code, env, "seed_demo")
    written = emitted(manage(code, env, "shell", "-c", OLD_WRITES), "WRITTEN")
    before = emitted(manage(code, env, "shell", "-c", SNAPSHOT), "SNAPSHOT")

    manage(ROOT, env, "migrate", "--noinput")
    return {
        "release": release,
        "code": code,
        "written": written,
        "before": before,
        "after": emitted(manage(ROOT, env, "shell", "-c", SNAPSHOT), "SNAPSHOT"),
        "read": emitted(
            manage(ROOT, {**env, "OUTBOX_STALE_SECONDS": "0"}, "shell", "-c", NEW_READS), "READ"
        ),
        "check": manage(ROOT, env, "migrate", "--check", check=False),
        "plan": manage(ROOT, env, "showmigrations", "--plan"),
    }


@pytest.mark.slow
@on_postgresql
def test_the_previous_release_wrote_the_data(upgrade: dict) -> None:
    """The old code ran (not this tree's, on the path through the editable install) and wrote
    the demo and its message."""
    assert Path(upgrade["written"]["code"]).is_relative_to(upgrade["code"])
    before = upgrade["before"]
    assert {"alice", "bob", "carol", "dave"} <= {user["username"] for user in before["users"]}
    assert before["chats"] and before["memberships"]
    texts = {message["id"]: message["text"] for message in before["messages"]}
    assert texts[upgrade["written"]["message"]] == OLD_TEXT
    assert upgrade["written"]["publications"], "the message recorded no live event"


@pytest.mark.slow
@on_postgresql
@pytest.mark.parametrize(
    "table", ["users", "profiles", "chats", "memberships", "messages", "invitations"]
)
def test_the_upgrade_keeps_what_users_see(upgrade: dict, table: str) -> None:
    """Every row the previous release wrote reads the same through this code's models."""
    assert upgrade["after"][table] == upgrade["before"][table]


@pytest.mark.slow
@on_postgresql
def test_demo_login_still_works(upgrade: dict) -> None:
    assert upgrade["read"]["alice_password_ok"]


@pytest.mark.slow
@on_postgresql
def test_nothing_delivered_is_sent_again(upgrade: dict) -> None:
    """Delivered emails and live events stay delivered; the sweeper picks exactly the rows the
    old code left pending, and /metrics' totals still count what was sent."""
    before, after, read = upgrade["before"], upgrade["after"], upgrade["read"]
    for kind in ("notifications", "publications"):
        assert after[kind] == before[kind]
        status = {row["id"]: row["status"] for row in after[kind]}
        pending = sorted(pk for pk, s in status.items() if s == "pending")
        sent = [pk for pk, s in status.items() if s == "sent"]
        assert read["stale"][kind] == pending
        assert read["backlog"][kind]["sent"] == len(sent)
        assert read["backlog"][kind]["pending"] == len(pending)
    delivered = {
        "notifications": [upgrade["written"]["notification"]],
        "publications": upgrade["written"]["publications"],
    }
    for kind, ids in delivered.items():
        status = {row["id"]: row["status"] for row in after[kind]}
        assert [status[pk] for pk in ids] == ["sent"] * len(ids)
        assert not set(ids) & set(read["stale"][kind])


@pytest.mark.slow
@on_postgresql
def test_no_migration_is_left(upgrade: dict) -> None:
    """`migrate --check` finds nothing to apply; showmigrations lists every one applied."""
    check, plan = upgrade["check"], upgrade["plan"].stdout
    assert check.returncode == 0, f"{check.stdout}\n{check.stderr}"
    applied = [line for line in plan.splitlines() if line.startswith("[")]
    assert applied and all(line.startswith("[X]") for line in applied), plan

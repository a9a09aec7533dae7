"""`make up`'s setup is idempotent: the second run of scripts/setup.sh and scripts/prepare.sh
changes nothing.

Both scripts run in a temporary copy of the working tree (tracked and untracked, non-ignored
files), never in the repository itself, so a developer's `.env`, database and static files are
never touched. The copy links to the repository's `.venv`, `.tools` and `node_modules`, so nothing
is downloaded. The first setup.sh run in the copy is a true first run for `.env` (it writes one
with random secrets); the second must leave it byte-for-byte and mtime-identical and log nothing.
A `.env` that lacks a variable of `.env.example` gets it appended, and keeps its other lines.

setup.sh reinstalls the virtualenv when pyproject.toml changed since the last install; from the
copy that would install the project editable from a temporary folder into the shared `.venv`, so
the setup tests fail, asking for `make setup`, until it has run (CI runs it first). prepare.sh
(migrate, collectstatic, seed_demo) runs against a temporary VAR_DIR and SQLite database:
PostgreSQL needs no separate proof here, the migrations and the seed are the same code.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from core.secrets import require_secret
from testing import script_env

REPO = Path(__file__).resolve().parent.parent
LINKED = (".venv", ".tools", "node_modules")
COUNTED_TABLES = (
    "auth_user",
    "chats_chat",
    "chats_membership",
    "chats_membershipevent",
    "chats_message",
    "chats_notification",
    "chats_publication",
    "django_migrations",
)

# What setup.sh fills with random values in a new .env (the rest keep .env.example's defaults).
GENERATED = (
    "DJANGO_SECRET_KEY",
    "CENTRIFUGO_HTTP_API_KEY",
    "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY",
    "FLOWER_PASSWORD",
    "DEMO_PASSWORD",
    "POSTGRES_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "JUPYTER_TOKEN",
    "METRICS_BEARER_TOKEN",
    "STATS_READ_TOKEN",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree as git sees it (minus ignored files), with the heavy folders linked."""
    copy = tmp_path_factory.mktemp("repo")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file may be deleted in the working tree
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    for name in LINKED:
        if (REPO / name).exists():
            (copy / name).symlink_to(REPO / name)
    return copy


def run(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", f"scripts/{script}"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


def row_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        return {
            table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in COUNTED_TABLES
        }


def files_and_mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def env_values(text: str) -> dict[str, str]:
    """The variables of a .env text (comments and blank lines skipped)."""
    return dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z_]+=", line))


def require_installed_venv() -> None:
    """From the copy, a reinstall would put a temporary folder into the shared .venv: refuse."""
    pinned = (REPO / "pyproject.toml").read_bytes() + (REPO / "constraints.txt").read_bytes()
    stamp = hashlib.sha256(pinned).hexdigest()[:16]  # as scripts/setup.sh computes it
    if not (REPO / ".venv" / f".installed-{stamp}").exists():
        pytest.fail("pyproject.toml or constraints.txt changed since the last install: make setup")


def test_setup_twice_writes_env_once_and_then_does_nothing(repo_copy: Path, tmp_path: Path):
    require_installed_venv()
    env_file = repo_copy / ".env"
    env_file.unlink(missing_ok=True)
    env = script_env(tmp_path / "var")

    first = run("setup.sh", repo_copy, env)
    assert "writing .env" in first.stderr
    written = (env_file.read_bytes(), env_file.stat().st_mtime_ns)
    example = env_values((REPO / ".env.example").read_text())
    secrets = env_values(env_file.read_text())
    assert set(secrets) == set(example)
    generated = [name for name in GENERATED if secrets[name] not in ("", example[name])]
    assert generated == list(GENERATED), f"not generated: {set(GENERATED) - set(generated)}"
    assert len({secrets[name] for name in GENERATED}) == len(GENERATED), "secrets repeat"
    for name in GENERATED:  # good enough to start with DJANGO_DEBUG off (core.secrets)
        require_secret(name, secrets[name])
    assert len(secrets["DJANGO_SECRET_KEY"]) >= 50  # Django's check --deploy wants 50 (W009)
    # DEBUG is off unless asked for (settings); make up's .env asks for it.
    assert secrets["DJANGO_DEBUG"] == "true"

    second = run("setup.sh", repo_copy, env)
    assert "==>" not in second.stderr, f"the second run did something:\n{second.stderr}"
    assert (env_file.read_bytes(), env_file.stat().st_mtime_ns) == written


def test_setup_appends_what_env_example_gained(repo_copy: Path, tmp_path: Path):
    """An older .env lacks a variable that .env.example has now (a newer checkout): setup.sh
    appends it with a fresh secret and leaves every existing line as it was."""
    require_installed_venv()
    env_file = repo_copy / ".env"
    env = script_env(tmp_path / "var")
    run("setup.sh", repo_copy, env)  # a .env, whether or not the test above wrote one
    gained = "GRAFANA_ADMIN_PASSWORD"
    older = "".join(
        line
        for line in env_file.read_text().splitlines(keepends=True)
        if not line.startswith(f"{gained}=")
    )
    assert older != env_file.read_text()
    env_file.write_text(older)

    result = run("setup.sh", repo_copy, env)
    assert f"adding to .env what .env.example gained: {gained}" in result.stderr
    text = env_file.read_text()
    assert text.startswith(older), "setup.sh changed lines that were already in .env"
    appended = env_values(text[len(older) :])
    assert list(appended) == [gained]
    placeholder = env_values((REPO / ".env.example").read_text())[gained]
    assert appended[gained] not in ("", placeholder), f"{gained} was not generated"
    assert env_values(text) == {**env_values(older), **appended}


def test_prepare_twice_changes_nothing_the_second_time(repo_copy: Path, tmp_path: Path):
    var_dir = tmp_path / "var"
    env = script_env(var_dir)

    first = run("prepare.sh", repo_copy, env)
    assert "Demo data created" in first.stdout
    counts = row_counts(var_dir / "db.sqlite3")
    # The demo with its weeks of history (chats/demo/ says how much).
    assert counts["auth_user"] > 4 and counts["chats_chat"] > 2 and counts["chats_message"] > 100
    static = files_and_mtimes(var_dir / "static")
    assert any(name.endswith("swagger-ui-bundle.js") for name in static)

    second = run("prepare.sh", repo_copy, env)
    assert "nothing created" in second.stdout
    assert "Demo data created" not in second.stdout
    assert row_counts(var_dir / "db.sqlite3") == counts
    assert files_and_mtimes(var_dir / "static") == static

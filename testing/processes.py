"""Child processes for tests and benchmarks: start, wait until ready, stop, kill, restart.

Each process logs to a file of its own; `stop` ends it (SIGTERM to its process group), `kill`
SIGKILLs it (to test a crash), `start` brings it back on the same port.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
TOOLS_BIN = BASE_DIR / ".tools" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    check: Callable[[], object], timeout: float = 30, what: str = "condition", interval: float = 0.1
) -> object:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def answers(url: str) -> bool:
    """A service is ready when this URL answers 200 (a refused connection raises, so
    `wait_until` tries again)."""
    with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local services
        return response.status == 200


class ManagedProcess:
    """A service process started from `argv`, logged to a file, restartable on the same port."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        port: int | None = None,
        cwd: Path = BASE_DIR,
        ready: Callable[[], object] | None = None,
        ready_timeout: float = 60,
    ) -> None:
        self.name, self.argv, self.env, self.port, self.cwd = name, argv, env, port, cwd
        self.ready = ready or ((lambda: port_open(port)) if port else None)
        self.ready_timeout = ready_timeout
        self.log_path = Path(tempfile.mkdtemp(prefix=f"{name}-")) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self.ready is not None:
            try:
                wait_until(self._ready_or_dead, self.ready_timeout, f"{self.name} to start")
            except TimeoutError:
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}") from None
        return self

    def _ready_or_dead(self) -> object:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        return self.ready()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """Graceful stop (SIGTERM to the whole process group), SIGKILL if it lingers."""
        if not self.running:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process and its children at once, as a crash would."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def database_url() -> str:
    """The URL of the database this process uses now (the test DB inside a test session)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = f"{s['USER']}:{s['PASSWORD']}@" if s.get("USER") else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def django_env(**overrides: object) -> dict[str, str]:
    """Environment for a child Django/Celery process that shares this process's database."""
    env = dict(os.environ)
    # Set in this process for Playwright's event loop (testing.browser); a child is a server or a
    # worker, where Django's check --deploy refuses it (async.E001).
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env["DATABASE_URL"] = database_url()
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def script_env(var_dir: Path) -> dict[str, str]:
    """For running the project's scripts (setup.sh, prepare.sh) as a first `make up` would: the
    caller's environment, minus the test run's database, plus a private VAR_DIR with its own
    SQLite database, reports and mail folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_NAME")}
    env.update(
        VAR_DIR=str(var_dir),
        DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        REPORTS_DIR=str(var_dir / "reports"),
        DEV_MAIL_DIR=str(var_dir / "mail"),
        # Nobody listens there: the demo's tasks wait in the outbox, never reaching a developer's
        # running platform.
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        CELERY_BROKER_URL="",
    )
    return env


def deployment_settings() -> dict[str, str]:
    """DJANGO_DEBUG off with a real value for every secret and setting a start with DEBUG off
    refuses without (the settings, Flower's launcher, seed_demo): fresh random secrets."""
    return {
        "DJANGO_DEBUG": "false",
        "PUBLIC_BASE_URL": "https://chat.example.com",
        "EMAIL_HOST_PASSWORD": "",  # optional: empty means no SMTP login
        "DJANGO_SECRET_KEY_FALLBACKS": "",  # no key rotated away
        **{
            name: secrets.token_urlsafe(48)
            for name in (
                "DJANGO_SECRET_KEY",
                "CENTRIFUGO_HTTP_API_KEY",
                "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY",
                "METRICS_BEARER_TOKEN",
                "STATS_READ_TOKEN",
                "FLOWER_PASSWORD",
                "DEMO_PASSWORD",
            )
        },
    }


def production_env(**overrides: object) -> dict[str, str]:
    """`django_env` as a deployment runs (`deployment_settings`), then `overrides`. All set
    explicitly, so the developer's `.env` plays no part; a test that changes one variable sees
    only that variable's effect."""
    return django_env(**{**deployment_settings(), **overrides})


def collectstatic(env: dict[str, str]) -> None:
    """`manage.py collectstatic` with a child's environment: the files a page loads, where
    WhiteNoise (or nginx) serves them with DEBUG off; RuntimeError with its output if it fails."""
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"collectstatic failed:\n{done.stderr[-3000:]}")


def manage_check(**overrides: object) -> subprocess.CompletedProcess[str]:
    """`manage.py check` in a child process started as a deployment (`production_env`, then
    `overrides`): how tests show a setting refused at start, by name, or accepted."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=production_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )

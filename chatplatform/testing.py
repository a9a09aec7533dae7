"""Start real services (Redis, Celery workers, ...) on free ports for tests and benchmarks.

Each service is a child process with its log in a file; `stop` ends it, `kill` SIGKILLs it (to
test a crash), `start` brings it back on the same port.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
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


def redis_process(port: int | None = None) -> ManagedProcess:
    port = port or free_port()
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    argv = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
    ]
    proc = ManagedProcess("redis", argv, port=port)
    proc.url = f"redis://127.0.0.1:{port}/0"
    return proc


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
    env["DATABASE_URL"] = database_url()
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def celery_worker_process(
    env: dict[str, str],
    concurrency: int | None = None,
    name: str = "worker",
    extra: list[str] | None = None,
    group: str | None = None,
    metrics_port: int = 0,
) -> ManagedProcess:
    """A real worker of one group of settings.WORKER_GROUPS (`group=None`: one serving every
    queue), started as make up and compose start it (`python -m chatplatform.workers`); ready
    once it answers a ping. `metrics_port` serves its queue-wait histogram (0: none)."""
    hostname = f"{name}-{free_port()}@localhost"
    argv = [sys.executable, "-m", "chatplatform.workers", group or "all"]
    argv += ["--metrics-port", str(metrics_port), "--hostname", hostname]
    argv += ["--without-mingle", "--without-gossip"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    argv += extra or []

    def ready() -> bool:
        from chatplatform.celery import app

        replies = app.control.ping(destination=[hostname], timeout=0.5)
        return bool(replies)

    proc = ManagedProcess(name, argv, env=env, ready=ready, ready_timeout=90)
    proc.hostname = hostname
    proc.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else None
    return proc


FLOWER_USER, FLOWER_PASSWORD = "operator", "flower-test-password"


def basic_auth(user: str = FLOWER_USER, password: str = FLOWER_PASSWORD) -> dict[str, str]:
    """The Authorization header of HTTP basic auth (Flower's, by default)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def flower_api(proc: ManagedProcess, path: str) -> object:
    """GET one of Flower's JSON endpoints (`/api/...`) with its credentials."""
    request = urllib.request.Request(proc.url + path, headers=basic_auth())  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local
        return json.load(response)


def flower_process(env: dict[str, str]) -> ManagedProcess:
    """A real Flower with basic auth (FLOWER_USER/FLOWER_PASSWORD) on the broker of `env`, as
    make up runs it; ready when /healthcheck answers. `proc.url` is its address."""
    port = free_port()
    argv = [sys.executable, "-m", "celery", "-A", "chatplatform", "flower"]
    argv += [
        f"--port={port}",
        "--address=127.0.0.1",
        f"--basic-auth={FLOWER_USER}:{FLOWER_PASSWORD}",
    ]
    url = f"http://127.0.0.1:{port}"

    proc = ManagedProcess(
        "flower", argv, env=env, port=port, ready=lambda: answers(f"{url}/healthcheck")
    )
    proc.url = url
    return proc


CENTRIFUGO_CONFIG = BASE_DIR / "centrifugo" / "config.json"


def celery_beat_process(env: dict[str, str], workdir: Path) -> ManagedProcess:
    """A real `celery beat` with its schedule state in `workdir` (the schedule comes from env)."""
    argv = [sys.executable, "-m", "celery", "-A", "chatplatform", "beat", "-l", "info"]
    argv += ["--schedule", str(workdir / "beat-schedule"), "--pidfile", ""]
    return ManagedProcess("beat", argv, env=env)


def centrifugo_process(
    port: int | None = None,
    api_key: str = "test-centrifugo-api-key",
    # At least 32 bytes: PyJWT warns about shorter HMAC keys (RFC 7518, section 3.2).
    token_secret: str = "test-centrifugo-token-secret-of-32-bytes-or-more",  # noqa: S107
    allowed_origins: tuple[str, ...] = ("http://localhost:*", "http://127.0.0.1:*"),
    extra_env: dict[str, str] | None = None,
) -> ManagedProcess:
    """A real Centrifugo from `centrifugo/config.json`, secrets and port from its environment.

    It runs in an empty directory so it does not load the project's `.env` (Centrifugo v6 reads
    `.env` from its working directory). The returned process carries `api_url`, `ws_url`,
    `metrics_url`, `health_url`, `api_key` and `token_secret`.
    """

    port = port or free_port()
    base = f"127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CENTRIFUGO_")}
    env.update(
        CENTRIFUGO_HTTP_SERVER_ADDRESS="127.0.0.1",
        CENTRIFUGO_HTTP_SERVER_PORT=str(port),
        CENTRIFUGO_HTTP_API_KEY=api_key,
        CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=token_secret,
        CENTRIFUGO_CLIENT_ALLOWED_ORIGINS=" ".join(allowed_origins),
        **(extra_env or {}),
    )
    health_url = f"http://{base}/health"

    argv = [str(TOOLS_BIN / "centrifugo"), "--config", str(CENTRIFUGO_CONFIG)]
    proc = ManagedProcess(
        "centrifugo",
        argv,
        env=env,
        port=port,
        cwd=Path(tempfile.mkdtemp(prefix="cfg-")),
        ready=lambda: answers(health_url),
    )
    proc.api_url = f"http://{base}/api"
    proc.ws_url = f"ws://{base}/connection/websocket"
    proc.metrics_url = f"http://{base}/metrics"
    proc.health_url = health_url
    proc.api_key = api_key
    proc.token_secret = token_secret
    return proc


class PrometheusError(RuntimeError):
    """Prometheus refused a request; the message holds its own answer (errorType and error, e.g.
    where a query does not parse), which a bare HTTP 400 would hide."""


def prometheus_process(config_text: str, port: int | None = None) -> ManagedProcess:
    """A real Prometheus (the Debian `prometheus` binary) with `config_text` as prometheus.yml.

    The config goes into a fresh directory that is also the working directory; the TSDB goes in a
    subdirectory. The returned process carries `url` (http://127.0.0.1:port),
    `api(path, **params) -> dict` (the `data` of GET /api/v1/<path>, e.g. "rules", "alerts") and
    `query(promql) -> list` (the `data.result` of an instant query); both raise PrometheusError
    with Prometheus's error text when it refuses.
    """
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="prometheus-"))
    config_path = workdir / "prometheus.yml"
    config_path.write_text(config_text)
    url = f"http://127.0.0.1:{port}"
    server = shutil.which("prometheus") or "/usr/bin/prometheus"
    argv = [
        server,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]

    def api(path: str, **params: str) -> dict:
        address = f"{url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=10) as response:  # noqa: S310 - local
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            raise PrometheusError(f"{path} {params}: HTTP {exc.code}: {body}") from None
        if answer.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {answer}")
        return answer["data"]

    def query(promql: str) -> list:
        return api("query", query=promql)["result"]

    proc = ManagedProcess(
        "prometheus", argv, port=port, cwd=workdir, ready=lambda: answers(f"{url}/-/ready")
    )
    proc.url = url
    proc.api = api
    proc.query = query
    return proc


def smtp_process(
    port: int | None = None,
    mail_dir: Path | str | None = None,
    refuse: tuple[str, ...] = (),
    silent: bool = False,
    delay: float = 0.0,
) -> ManagedProcess:
    """A real SMTP server (`chatplatform.devmail`) in its own process, on a free port.

    `proc.inbox` reads what it received (one `.eml` per message, kept across restarts);
    `refuse` answers 550 to those recipients; `silent` accepts connections and never answers;
    `delay` takes that many seconds to accept each message (a remote provider).
    `proc.django_env` holds the EMAIL_* settings that make a worker send to it.
    Stop and start it again (or start another one on `proc.port`) to simulate an outage.
    """
    from chatplatform import devmail

    port = port or free_port()
    mail_dir = Path(mail_dir or tempfile.mkdtemp(prefix="smtp-inbox-"))
    argv = [sys.executable, "-m", "chatplatform.devmail", "--port", str(port)]
    argv += ["--dir", str(mail_dir), *(f"--refuse={address}" for address in refuse)]
    if silent:
        argv.append("--silent")
    if delay:
        argv += ["--delay", str(delay)]
    proc = ManagedProcess("smtp-silent" if silent else "smtp", argv, port=port)
    proc.inbox = devmail.Inbox(mail_dir)
    proc.django_env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": "false",
        "EMAIL_USE_SSL": "false",
    }
    return proc

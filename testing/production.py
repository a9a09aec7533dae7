"""make prod's processes, started by tests and benchmarks on free ports: nginx terminating TLS
(launchers/nginx.py, the template compose uses) in front of gunicorn (launchers/gunicorn_conf.py)
and Centrifugo's WebSocket, with Celery workers, Redis and an SMTP server, all with DEBUG off.

    with ProductionStack() as stack:      # inside a test: its database (testing.django_env)
        stack.url                         # https://localhost:PORT, one origin for pages and wss
        stack.ca_file                     # the local CA a client must trust (mkcert's)
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from launchers.tls import local_certificate

from .plugin import point_celery_at
from .processes import (
    ManagedProcess,
    answers,
    collectstatic,
    free_port,
    production_env,
)
from .services import CentrifugoProcess, RedisProcess, SmtpProcess, WorkerProcess

HOST = "localhost"


class GunicornProcess(ManagedProcess):
    """gunicorn with make prod's settings (launchers/gunicorn_conf.py) on a free loopback port;
    `workers`/`threads` as WEB_WORKERS/WEB_THREADS (default: the config's, from the cores)."""

    def __init__(self, env: dict[str, str], workers: int | None = None, threads: int = 1) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_THREADS": str(threads)}
        if workers:
            env["WEB_WORKERS"] = str(workers)
        argv = [sys.executable, "-m", "gunicorn", "-c", "python:launchers.gunicorn_conf"]
        argv += ["chatplatform.wsgi:application"]
        super().__init__(
            "gunicorn",
            argv,
            env=env,
            port=port,
            ready=lambda: answers(f"{self.url}/livez"),
            ready_timeout=120,  # workers import Django one after another; slow on a loaded box
        )


class ProxyProcess(ManagedProcess):
    """Debian's nginx from launchers/nginx.py on free https and http ports, in front of `web`
    and Centrifugo's public port, serving `static_root` itself."""

    def __init__(
        self,
        env: dict[str, str],
        web_port: int,
        centrifugo_port: int,
        cert: Path,
        key: Path,
        static_root: Path,
        state: Path,
        https_port: int | None = None,
    ) -> None:
        self.https_port, self.http_port = https_port or free_port(), free_port()
        self.url = f"https://{HOST}:{self.https_port}"
        env = {
            **env,
            "HTTPS_PORT": str(self.https_port),
            "HTTP_PORT": str(self.http_port),
            "WEB_PORT": str(web_port),
            "CENTRIFUGO_PORT": str(centrifugo_port),
        }
        argv = [sys.executable, "-m", "launchers.nginx", "--state", str(state)]
        argv += ["--cert", str(cert), "--key", str(key), "--static-root", str(static_root)]
        super().__init__("nginx", argv, env=env, port=self.https_port)


class ProductionStack(ExitStack):
    """The production profile on free ports, as a context manager; `env` is what every process
    of it runs with (DEBUG off, behind the proxy, wss through it), for extra processes."""

    def __init__(
        self,
        redis: RedisProcess | None = None,
        web_workers: int | None = 2,
        groups: tuple[str, ...] = ("live", "email"),
        **env: str,
    ) -> None:
        """`redis`: the broker (a test's `redis_service`); None starts one and points this
        process's Celery app at it, as the test plugin does."""
        super().__init__()
        self.redis = redis
        self.state = Path(tempfile.mkdtemp(prefix="prod-"))
        self.state.chmod(0o755)  # nginx's workers (nobody, when run as root) read static files
        self.web_workers, self.groups, self.overrides = web_workers, groups, env

    def __enter__(self) -> ProductionStack:
        super().__enter__()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        cert = local_certificate(self.state / "tls", [HOST, "127.0.0.1"])
        self.ca_file = cert.ca_file
        https_port = free_port()  # reserved for the proxy below: the origin is known up front
        origin = f"https://{HOST}:{https_port}"
        if self.redis is None:
            self.redis = self.enter_context(RedisProcess())
            point_celery_at(self.redis.url)
        self.centrifugo = self.enter_context(
            # Keys a deployment accepts (core.secrets: 32 bytes at least with DEBUG off).
            CentrifugoProcess(
                allowed_origins=(origin,),
                api_key=secrets.token_urlsafe(48),
                token_secret=secrets.token_urlsafe(48),
            )
        )
        self.smtp = self.enter_context(SmtpProcess())
        self.inbox = self.smtp.inbox
        self.env = production_env(
            VAR_DIR=self.state,
            REDIS_URL=self.redis.url,
            CELERY_BROKER_URL="",
            PUBLIC_BASE_URL=origin,
            DJANGO_BEHIND_TLS_PROXY="true",
            TRUSTED_PROXY_COUNT="1",
            DJANGO_ALLOWED_HOSTS=f"{HOST},127.0.0.1",
            DJANGO_CSRF_TRUSTED_ORIGINS=origin,
            PROMETHEUS_MULTIPROC_DIR=self.state / "prometheus-multiproc",
            **{
                **self.centrifugo.django_env,
                "CENTRIFUGO_WS_URL": f"wss://{HOST}:{https_port}/connection/websocket",
                **self.smtp.django_env,
                **self.overrides,
            },
        )
        (self.state / "prometheus-multiproc").mkdir()
        collectstatic(self.env)
        for group in self.groups:
            self.enter_context(WorkerProcess(self.env, group=group))
        self.web = self.enter_context(GunicornProcess(self.env, workers=self.web_workers))
        self.proxy = ProxyProcess(
            self.env,
            web_port=self.web.port,
            centrifugo_port=self.centrifugo.port,
            cert=cert.cert_file,
            key=cert.key_file,
            static_root=self.state / "static",
            state=self.state / "nginx",
            https_port=https_port,
        )
        self.enter_context(self.proxy)
        self.url = origin

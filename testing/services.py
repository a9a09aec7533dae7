"""The real services the tests and benchmarks talk to, each on a free port in a child process.

Each factory returns a `ManagedProcess` subclass whose typed attributes say how to reach the
service (its URL, its credentials, the settings that point Django at it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .processes import (
    BASE_DIR,
    TOOLS_BIN,
    ManagedProcess,
    answers,
    free_port,
    port_open,
    wait_until,
)

CENTRIFUGO_CONFIG = BASE_DIR / "centrifugo" / "config.json"
JAEGER_CONFIG = BASE_DIR / "deploy" / "jaeger" / "config.yaml"
HAPROXY_CONFIG = BASE_DIR / "centrifugo" / "haproxy.cfg"
FLOWER_USER, FLOWER_PASSWORD = "operator", "flower-test-password"


class RedisProcess(ManagedProcess):
    """A throwaway redis-server: no persistence, loopback only."""

    def __init__(self, port: int | None = None) -> None:
        port = port or free_port()
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [server, "--port", str(port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
        super().__init__("redis", argv, port=port)
        self.url = f"redis://127.0.0.1:{port}/0"
        # Database 1, apart from the broker's queues: where the settings put Django's cache.
        self.cache_url = f"redis://127.0.0.1:{port}/1"


class WorkerProcess(ManagedProcess):
    """A real worker of one group of settings.WORKER_GROUPS (`group=None`: one serving every
    queue), started as make up and compose start it (`python -m launchers.workers`); ready
    once it answers a ping. `metrics_port` serves its queue-wait histogram (0: none)."""

    def __init__(
        self,
        env: dict[str, str],
        concurrency: int | None = None,
        name: str = "worker",
        extra: list[str] | None = None,
        group: str | None = None,
        metrics_port: int = 0,
    ) -> None:
        self.hostname = f"{name}-{free_port()}@localhost"
        argv = [sys.executable, "-m", "launchers.workers", group or "all"]
        argv += ["--metrics-port", str(metrics_port), "--hostname", self.hostname]
        argv += ["--without-mingle", "--without-gossip"]
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
        argv += extra or []
        super().__init__(name, argv, env=env, ready=self._answers_ping, ready_timeout=90)
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else None

    def _answers_ping(self) -> bool:
        from chatplatform.celery import app

        return bool(app.control.ping(destination=[self.hostname], timeout=0.5))


class WebProcess(ManagedProcess):
    """The web container's server: gunicorn with the project's WSGI application, on a free
    port, with `env` (e.g. `production_env()`). Ready once the application answers HTTP, with
    any status: gunicorn loads it in its worker, so an open socket alone proves nothing."""

    def __init__(self, env: dict[str, str], name: str = "web") -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "gunicorn", "chatplatform.wsgi:application"]
        argv += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"]
        argv += ["--access-logfile", "-"]
        super().__init__(name, argv, env=env, port=port, ready=self._responds)

    def _responds(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5):  # noqa: S310 - local
                return True
        except urllib.error.HTTPError:
            return True  # any status is an answer (503 when no Redis runs)


def basic_auth(user: str = FLOWER_USER, password: str = FLOWER_PASSWORD) -> dict[str, str]:
    """The Authorization header of HTTP basic auth (Flower's, by default)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class FlowerProcess(ManagedProcess):
    """A real Flower on the broker of `env`, started as make up and compose start it (the
    launcher `python -m launchers.flower`, which refuses a placeholder password with DEBUG
    off), with basic auth `user`/`password`; ready when /healthcheck answers."""

    def __init__(
        self, env: dict[str, str], user: str = FLOWER_USER, password: str = FLOWER_PASSWORD
    ) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.credentials = basic_auth(user, password)
        argv = [sys.executable, "-m", "launchers.flower"]
        argv += [f"--port={port}", "--address=127.0.0.1"]
        super().__init__(
            "flower",
            argv,
            env={**env, "FLOWER_USER": user, "FLOWER_PASSWORD": password},
            port=port,
            ready=lambda: answers(f"{self.url}/healthcheck"),
        )

    def api(self, path: str) -> object:
        """GET one of Flower's JSON endpoints (`/api/...`) with its credentials."""
        request = urllib.request.Request(self.url + path, headers=self.credentials)  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local
            return json.load(response)


def celery_beat_process(env: dict[str, str], workdir: Path) -> ManagedProcess:
    """A real `celery beat` with its schedule state in `workdir` (the schedule comes from env)."""
    argv = [sys.executable, "-m", "celery", "-A", "chatplatform", "beat", "-l", "info"]
    argv += ["--schedule", str(workdir / "beat-schedule"), "--pidfile", ""]
    return ManagedProcess("beat", argv, env=env)


class CentrifugoProcess(ManagedProcess):
    """A real Centrifugo from `centrifugo/config.json`, secrets and ports from its environment.

    As in make up and compose, browsers' WebSocket is on `port` and the server API, /metrics and
    /health on `internal_port` alone. It runs in an empty directory so it does not load the
    project's `.env` (Centrifugo v6 reads `.env` from its working directory). With `redis_url`
    it runs on the Redis engine (broker and presence there), so nodes sharing that Redis are one
    cluster; without, on the in-memory engine, a cluster of one.
    """

    def __init__(
        self,
        port: int | None = None,
        internal_port: int | None = None,
        api_key: str = "test-centrifugo-api-key",
        # At least 32 bytes: PyJWT warns about shorter HMAC keys (RFC 7518, section 3.2).
        token_secret: str = "test-centrifugo-token-secret-of-32-bytes-or-more",  # noqa: S107
        allowed_origins: tuple[str, ...] = ("http://localhost:*", "http://127.0.0.1:*"),
        extra_env: dict[str, str] | None = None,
        redis_url: str | None = None,
    ) -> None:
        port = port or free_port()
        self.internal_port = internal_port or free_port()
        engine = (
            {"CENTRIFUGO_ENGINE_TYPE": "redis", "CENTRIFUGO_ENGINE_REDIS_ADDRESS": redis_url}
            if redis_url
            else {}
        )
        base, internal = f"127.0.0.1:{port}", f"127.0.0.1:{self.internal_port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("CENTRIFUGO_")}
        env.update(
            CENTRIFUGO_HTTP_SERVER_ADDRESS="127.0.0.1",
            CENTRIFUGO_HTTP_SERVER_PORT=str(port),
            CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT=str(self.internal_port),
            CENTRIFUGO_HTTP_API_KEY=api_key,
            CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=token_secret,
            CENTRIFUGO_CLIENT_ALLOWED_ORIGINS=" ".join(allowed_origins),
            **engine,
            **(extra_env or {}),
        )
        self.public_url, self.internal_url = f"http://{base}", f"http://{internal}"
        self.api_url = f"http://{internal}/api"
        self.ws_url = f"ws://{base}/connection/websocket"
        self.metrics_url = f"http://{internal}/metrics"
        self.health_url = f"http://{internal}/health"
        self.api_key = api_key
        self.token_secret = token_secret
        argv = [str(TOOLS_BIN / "centrifugo"), "--config", str(CENTRIFUGO_CONFIG)]
        super().__init__(
            "centrifugo",
            argv,
            env=env,
            port=port,
            cwd=Path(tempfile.mkdtemp(prefix="cfg-")),
            ready=lambda: answers(self.health_url),
        )

    @property
    def django_env(self) -> dict[str, str]:
        """The settings (as environment variables) that make Django publish here and sign
        tokens for it: pass them to a worker's environment."""
        return {
            "CENTRIFUGO_API_URL": self.api_url,
            "CENTRIFUGO_WS_URL": self.ws_url,
            "CENTRIFUGO_HTTP_API_KEY": self.api_key,
            "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY": self.token_secret,
        }


class HAProxyProcess(ManagedProcess):
    """Debian's HAProxy with `centrifugo/haproxy.cfg` (the file compose uses) in front of two
    Centrifugo nodes, every frontend on a free loopback port.

    `ws_url` is the browsers' WebSocket through it, `api_url` the server API through it,
    `metrics_url` its Prometheus exporter (per-server health: haproxy_server_status). Ready when
    its /healthz answers. `node_2_host` replaces node 2's host, e.g. a name that does not
    resolve, as compose's `centrifugo-2` without the `scale` profile.
    """

    def __init__(
        self,
        node_1: CentrifugoProcess,
        node_2: CentrifugoProcess,
        node_2_host: str = "127.0.0.1",
    ) -> None:
        ws, api, metrics = (f"127.0.0.1:{free_port()}" for _ in range(3))
        env = {key: value for key, value in os.environ.items() if not key.startswith("LB_")}
        env.update(
            LB_WEBSOCKET_BIND=ws,
            LB_API_BIND=api,
            LB_METRICS_BIND=metrics,
            LB_NODE_1_HOST="127.0.0.1",
            LB_NODE_1_PORT=str(node_1.port),
            LB_NODE_1_INTERNAL_PORT=str(node_1.internal_port),
            LB_NODE_2_HOST=node_2_host,
            LB_NODE_2_PORT=str(node_2.port),
            LB_NODE_2_INTERNAL_PORT=str(node_2.internal_port),
        )
        self.ws_url = f"ws://{ws}/connection/websocket"
        self.api_url = f"http://{api}/api"
        self.metrics_url = f"http://{metrics}/metrics"
        self.healthz_url = f"http://{metrics}/healthz"
        server = shutil.which("haproxy") or "/usr/sbin/haproxy"
        # -db: foreground, logs to stdout (the config logs there, no syslog).
        argv = [server, "-db", "-f", str(HAPROXY_CONFIG)]
        super().__init__("haproxy", argv, env=env, ready=lambda: answers(self.healthz_url))


class PrometheusError(RuntimeError):
    """Prometheus refused a request; the message holds its own answer (errorType and error, e.g.
    where a query does not parse), which a bare HTTP 400 would hide."""


def prometheus_api(url: str, path: str, timeout: float = 10, **params: object) -> dict:
    """The `data` of GET <url>/api/v1/<path> of any running Prometheus; PrometheusError with
    Prometheus's own error text when it refuses."""
    query = urllib.parse.urlencode({key: str(value) for key, value in params.items()})
    address = f"{url}/api/v1/{path}?{query}"
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:  # noqa: S310 - local
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        raise PrometheusError(f"{path} {params}: HTTP {exc.code}: {body}") from None
    if answer.get("status") != "success":
        raise PrometheusError(f"{path} {params}: {answer}")
    return answer["data"]


class PrometheusProcess(ManagedProcess):
    """A real Prometheus (the Debian `prometheus` binary) with `config_text` as prometheus.yml.

    The config goes into a fresh directory that is also the working directory; the TSDB goes in a
    subdirectory. `extra_args` go to the command line (e.g. --rules.alert.resend-delay=1s: alerts
    that fire before Prometheus has found its Alertmanager are otherwise sent a minute later).
    """

    def __init__(
        self, config_text: str, port: int | None = None, extra_args: list[str] | None = None
    ) -> None:
        port = port or free_port()
        workdir = Path(tempfile.mkdtemp(prefix="prometheus-"))
        config_path = workdir / "prometheus.yml"
        config_path.write_text(config_text)
        self.url = f"http://127.0.0.1:{port}"
        server = shutil.which("prometheus") or "/usr/bin/prometheus"
        argv = [
            server,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            *(extra_args or []),
        ]
        super().__init__(
            "prometheus", argv, port=port, cwd=workdir, ready=lambda: answers(f"{self.url}/-/ready")
        )

    def api(self, path: str, **params: str) -> dict:
        """The `data` of GET /api/v1/<path> (e.g. "rules", "alerts")."""
        return prometheus_api(self.url, path, **params)

    def query(self, promql: str) -> list:
        """The `data.result` of an instant query."""
        return self.api("query", query=promql)["result"]

    def value(self, promql: str) -> float | None:
        """The one number an instant query returns (None when it returns no series)."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None


class AlertmanagerProcess(ManagedProcess):
    """A real Alertmanager (Debian's `prometheus-alertmanager`) with `files` as rendered by
    monitoring.alertmanager.config.render_config (alertmanager.yml and its template), in a fresh
    directory; clustering off. `api` reads its v2 API (e.g. "alerts", with inhibitedBy)."""

    def __init__(self, files: dict[str, str], port: int | None = None) -> None:
        port = port or free_port()
        workdir = Path(tempfile.mkdtemp(prefix="alertmanager-"))
        for name, text in files.items():
            (workdir / name).write_text(text)
        self.url = f"http://127.0.0.1:{port}"
        server = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
        argv = [
            server,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",
        ]
        super().__init__(
            "alertmanager",
            argv,
            port=port,
            cwd=workdir,
            ready=lambda: answers(f"{self.url}/-/ready"),
        )

    def api(self, path: str, **params: str) -> object:
        """GET /api/v2/<path> as JSON."""
        address = f"{self.url}/api/v2/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(address, timeout=10) as response:  # noqa: S310 - local
            return json.loads(response.read())


class SmtpProcess(ManagedProcess):
    """A real SMTP server (`manage.py run_devmail`, without its web inbox) in its own process,
    on a free port.

    `inbox` reads what it received (kept across restarts); `refuse` answers 550 to those
    recipients; `silent` accepts connections and never answers; `delay` takes that many seconds
    to accept each message (a remote provider). Stop and start it again (or start another one
    on `port`) to simulate an outage.
    """

    def __init__(
        self,
        port: int | None = None,
        mail_dir: Path | str | None = None,
        refuse: tuple[str, ...] = (),
        silent: bool = False,
        delay: float = 0.0,
    ) -> None:
        from devmail.inbox import Inbox

        port = port or free_port()
        mail_dir = Path(mail_dir or tempfile.mkdtemp(prefix="smtp-inbox-"))
        argv = [sys.executable, str(BASE_DIR / "manage.py"), "run_devmail", "--port", str(port)]
        argv += ["--web-port", "0", "--dir", str(mail_dir)]
        argv += [f"--refuse={address}" for address in refuse]
        if silent:
            argv.append("--silent")
        if delay:
            argv += ["--delay", str(delay)]
        super().__init__("smtp-silent" if silent else "smtp", argv, port=port)
        self.inbox = Inbox(mail_dir)

    def send_here(self, settings: Any) -> None:
        """Make this process send here (a task run with `.apply()`, the driver called directly):
        pytest-django's `settings` given what `django_env` gives a worker, whatever `.env` says."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", self.port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    @property
    def django_env(self) -> dict[str, str]:
        """The EMAIL_* settings (as environment variables) that make a worker send here."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": "false",
            "EMAIL_USE_SSL": "false",
        }


class JaegerProcess(ManagedProcess):
    """A real Jaeger v2 (`.tools/bin/jaeger`, built by scripts/setup.sh) from
    `deploy/jaeger/config.yaml`, the file make up and compose run, on free loopback ports.

    Spans go to `otlp_endpoint` (OTLP over HTTP: what OTEL_EXPORTER_OTLP_ENDPOINT names; the SDK
    posts to /v1/traces); `query_url` is the JSON API Jaeger's UI reads. It keeps the last
    `max_traces` traces in memory. `env()` points a child process's OpenTelemetry SDK here, every
    span sampled and exported within 0.1 s. Ready when the query API lists services and the OTLP
    port accepts connections (the receiver starts after the query extension).
    """

    def __init__(self, max_traces: int = 10000, log_level: str = "warn") -> None:
        otlp_port, query_port = free_port(), free_port()
        self.otlp_endpoint = f"http://127.0.0.1:{otlp_port}"
        self.query_url = f"http://127.0.0.1:{query_port}"
        self.max_traces = max_traces
        process_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("JAEGER_", "OTEL_"))
        }
        process_env.update(
            JAEGER_LISTEN_HOST="127.0.0.1",
            JAEGER_OTLP_PORT=str(otlp_port),
            JAEGER_QUERY_PORT=str(query_port),
            JAEGER_MAX_TRACES=str(max_traces),
            JAEGER_LOG_LEVEL=log_level,
        )
        argv = [str(TOOLS_BIN / "jaeger"), "--config", str(JAEGER_CONFIG)]
        super().__init__(
            "jaeger",
            argv,
            env=process_env,
            port=query_port,
            ready=lambda: answers(f"{self.query_url}/api/services") and port_open(otlp_port),
        )
        # ManagedProcess keeps the child's environment in `self.env`, a name the contract gives
        # the method below (the SDK's variables): kept aside and lent back only while starting.
        self._process_env = self.__dict__.pop("env")

    def start(self) -> JaegerProcess:
        self.__dict__["env"] = self._process_env
        try:
            super().start()
        finally:
            del self.__dict__["env"]
        return self

    def env(self) -> dict[str, str]:  # type: ignore[override]
        """The variables that make a process's OpenTelemetry SDK (observability.tracing) export
        every span here at once, and the app read traces from here."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,
            "JAEGER_QUERY_URL": self.query_url,
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }

    def api(self, path: str, **params: object) -> Any:
        """The `data` of GET <query_url>/api/<path>; LookupError on 404 (an unknown trace)."""
        query = urllib.parse.urlencode({key: str(value) for key, value in params.items()})
        address = f"{self.query_url}/api/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(address, timeout=10) as response:  # noqa: S310 - local
                return json.loads(response.read())["data"]
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            if exc.code == 404:
                raise LookupError(f"Jaeger has no {path}: {body}") from None
            raise RuntimeError(f"Jaeger refused {path} {params}: HTTP {exc.code}: {body}") from None

    def services(self) -> list[str]:
        """The service names Jaeger has spans of."""
        return self.api("services") or []

    def find_traces(
        self, service: str, tags: dict[str, str] | None = None, limit: int = 20, **params: object
    ) -> list[dict]:
        """The traces of `service` (resource service.name) with a span having every one of
        `tags` (span or resource attributes, compared as strings), newest first: the `data` of
        /api/traces. `params` are the API's other filters (operation, start, end in
        microseconds, minDuration...). `limit` is held to `max_traces`: Jaeger's memory store
        refuses a larger one (HTTP 500, "search depth must be ... less than max traces")."""
        limit = min(limit, self.max_traces)
        if tags:
            params["tags"] = json.dumps({key: str(value) for key, value in tags.items()})
        return self.api("traces", service=service, limit=limit, **params) or []

    def get_trace(self, trace_id: str) -> dict:
        """One trace by its hex id ({"traceID", "spans", "processes"}); LookupError when Jaeger
        does not have it (never received, or pushed out by newer ones)."""
        [trace] = self.api(f"traces/{trace_id}")
        return trace

    def wait_for_traces(
        self,
        service: str,
        tags: dict[str, str] | None = None,
        predicate: Callable[[dict], object] | None = None,
        timeout: float = 20,
    ) -> list[dict]:
        """`find_traces(service, tags)` once it returns a trace for which `predicate(trace)` is
        true (any trace without one); only those traces. Spans arrive a batch at a time, so a
        predicate that wants a span of a later process (e.g. the worker's "deliver notification"
        after the web request's) waits for that span, not just the first batch."""

        def found() -> list[dict]:
            traces = self.find_traces(service, tags, limit=100)
            return [trace for trace in traces if predicate is None or predicate(trace)]

        what = f"Jaeger traces of {service} with {tags or 'any tags'}"
        return wait_until(found, timeout=timeout, what=what, interval=0.2)  # type: ignore[return-value]

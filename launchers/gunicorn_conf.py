"""gunicorn's settings for make prod and compose: `gunicorn -c python:launchers.gunicorn_conf`.

Sizing (docs/deploy.md, "Capacity", has the figures): WEB_WORKERS processes (default 2 per core
plus one, gunicorn's rule of thumb: while one waits on PostgreSQL, Redis or Centrifugo another
runs), each with WEB_THREADS threads (default 1: sync workers). Every worker keeps its database
connection between requests (WEB_DATABASE_CONN_MAX_AGE seconds, default 600, health-checked
before reuse): a new PostgreSQL connection for each request cut /healthz from 1,193 to 122
requests a second. PostgreSQL's max_connections (100) bounds workers x threads x web hosts, with the
Celery workers' connections besides.
"""

from __future__ import annotations

import os

from prometheus_client import multiprocess

_cores = os.cpu_count() or 1

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('WEB_PORT') or '8000'}"
workers = int(os.environ.get("WEB_WORKERS") or 2 * _cores + 1)
threads = int(os.environ.get("WEB_THREADS") or 1)
# Kept between requests: behind nginx, which holds a pool of connections open (keepalive 32).
keepalive = 75
timeout = 30
graceful_timeout = 20
# A worker is replaced after 20,000 to 30,000 requests: memory a leak held goes back. The jitter
# is wide on purpose: with 5,000 +- 500 every worker of an evenly loaded server recycled within
# the same few seconds, and reloading Django in all of them at once stalled it for seconds
# (measured by bench.bench_capacity).
max_requests = 20_000
max_requests_jitter = 10_000
# The proxy's access log is the one: a second line per request here costs CPU and says less.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Who may say a request came over https (X-Forwarded-Proto) to gunicorn: the proxy on this
# machine (compose: FORWARDED_ALLOW_IPS, its network). Django trusts the header by its own
# setting, DJANGO_BEHIND_TLS_PROXY.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
raw_env = [f"DATABASE_CONN_MAX_AGE={os.environ.get('WEB_DATABASE_CONN_MAX_AGE') or '600'}"]


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges leave /metrics (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

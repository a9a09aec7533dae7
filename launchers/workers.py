"""Start a Celery worker of one group declared in settings.WORKER_GROUPS.

    python -m launchers.workers live                    # what make up, compose and the tests run
    python -m launchers.workers email --concurrency 8   # extra options go to `celery worker`

The group decides the queues, the processes and the prefetch, so no command line elsewhere
repeats them. Each worker process gets a fresh prometheus-client multiprocess directory (its
prefork children record the time-in-queue histogram there) and serves it on the group's metrics
port (`--metrics-port`, 0: none; see observability.celery_watch).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatplatform.settings")


def group_names() -> list[str]:
    from django.conf import settings

    return list(settings.WORKER_GROUPS)


def metrics_port(group: str) -> int:
    """make up's port of the group: WORKER_METRICS_PORT plus its index in WORKER_GROUPS."""
    from django.conf import settings

    return settings.WORKER_METRICS_PORT + group_names().index(group)


def metrics_targets(host: str) -> str:
    """`group=host:port,...` of every group's metrics endpoint, for make up's Prometheus."""
    return ",".join(f"{group}={host}:{metrics_port(group)}" for group in group_names())


def settings_nice(group: str) -> int:
    """How much lower than the web and live processes the group runs on a busy CPU."""
    from django.conf import settings

    return settings.WORKER_GROUPS[group].get("nice", 0)


def worker_argv(
    group: str | None,
    *,
    hostname: str | None = None,
    concurrency: int | None = None,
    extra: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """`celery worker` arguments for a group (or, `group=None`, a worker serving every queue,
    as a single-process test or benchmark may want)."""
    from django.conf import settings

    spec = settings.WORKER_GROUPS[group] if group else {"concurrency": 1, "prefetch": 1}
    queues = spec["queues"] if group else list(settings.QUEUE_WAIT_BUDGETS)
    argv = [
        *("-A", "chatplatform", "worker", "-l", "info", "-E", "--pool", "prefork"),
        *("--queues", ",".join(queues)),
        *("--concurrency", str(concurrency or spec["concurrency"])),
        *("--prefetch-multiplier", str(spec["prefetch"])),
        *("--hostname", hostname or f"{group or 'all'}@%h"),
    ]
    if spec.get("max_tasks_per_child"):
        argv += ["--max-tasks-per-child", str(spec["max_tasks_per_child"])]
    return [*argv, *extra]


def main(argv: list[str] | None = None) -> None:
    import django

    django.setup()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("group", choices=[*group_names(), "all"])
    parser.add_argument("--metrics-port", type=int, default=None, help="0: no metrics endpoint")
    parser.add_argument("--concurrency", "-c", type=int, help="processes (default: the group's)")
    parser.add_argument("--hostname", "-n", help="node name (default: GROUP@%%h)")
    args, extra = parser.parse_known_args(argv)
    group = None if args.group == "all" else args.group
    port = args.metrics_port
    if port is None:
        port = metrics_port(group) if group else 0
    env = dict(os.environ)
    # Keep the database connection between tasks (health-checked before reuse): on PostgreSQL
    # the email worker sends about twice as many emails a second. Its own variable, since
    # DATABASE_CONN_MAX_AGE (0 in .env) is the web process's.
    env["DATABASE_CONN_MAX_AGE"] = os.environ.get("WORKER_DATABASE_CONN_MAX_AGE") or "60"
    # A fresh directory per worker: prometheus-client's multiprocess files of a previous run
    # would add old counts to the new ones.
    multiproc = Path(tempfile.mkdtemp(prefix=f"worker-{args.group}-metrics-"))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
    env["WORKER_GROUP"] = args.group
    env["WORKER_METRICS_PORT_ACTIVE"] = str(port)
    argv = worker_argv(group, hostname=args.hostname, concurrency=args.concurrency, extra=extra)
    celery = [sys.executable, "-m", "celery", *argv]
    if group and settings_nice(group):
        os.nice(settings_nice(group))  # inherited by the exec'd worker and its pool
    sys.stdout.flush()
    try:
        os.execve(sys.executable, celery, env)  # noqa: S606 - our own interpreter, no shell
    finally:  # only reached if exec failed; otherwise the worker removes it when it stops
        shutil.rmtree(multiproc, ignore_errors=True)


if __name__ == "__main__":
    main()

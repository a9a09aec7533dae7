"""The monitoring stack the end-to-end tests of this package share: SMTP, a worker with the test
tasks and its metrics port, beat, Flower, Centrifugo and a Prometheus scraping them (and the
live_server) every second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import testing
from monitoring.tests import e2e_tasks
from monitoring.tests.support import forget_earlier_tests, local_prometheus


@pytest.fixture
def flower(worker_env) -> Iterator[testing.ManagedProcess]:
    """A real Flower with basic auth on the test broker (it needs nothing else)."""
    with testing.FlowerProcess(worker_env()) as proc:
        yield proc


@pytest.fixture
def stack(
    redis_service, centrifugo_service, live_server, worker_env, flower, settings, tmp_path
) -> Iterator[dict]:
    """SMTP, a worker with the test tasks and its metrics port, beat, Flower and Prometheus, all
    on free ports."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    forget_earlier_tests()
    started: list[testing.ManagedProcess] = []
    try:
        smtp = testing.SmtpProcess()
        started.append(smtp.start())
        env = worker_env(
            **smtp.django_env,
            **centrifugo_service.django_env,
            REPORTS_DIR=tmp_path / "reports",
        )
        worker_metrics_port = testing.free_port()
        worker = testing.WorkerProcess(
            env,
            name="monitoring-worker",
            extra=["--include", e2e_tasks.__name__],
            metrics_port=worker_metrics_port,
        )
        started.append(worker.start())
        started.append(testing.celery_beat_process(env, tmp_path).start())
        prometheus = local_prometheus(
            settings,
            tmp_path,
            live_server.url,
            {
                "flower": f"127.0.0.1:{flower.port}",
                "centrifugo": f"127.0.0.1:{centrifugo_service.internal_port}",
                "celery-workers": [
                    {"targets": [f"127.0.0.1:{worker_metrics_port}"], "labels": {"group": "all"}}
                ],
            },
        )
        started.append(prometheus.start())
        yield {
            "prometheus": prometheus,
            "flower": flower,
            "web": live_server.url,
            "worker": worker,
        }
    finally:
        for proc in reversed(started):
            proc.stop()

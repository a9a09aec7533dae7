"""Fixtures shared by chats' real-service tests: WebSocket clients and email workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import testing
from chatplatform.celery import app as celery_app

from .support import PUBLIC, LiveClient


@pytest.fixture
def listen(centrifugo_service) -> Iterator[Callable[[str], LiveClient]]:
    """Connect a WebSocket client to the test Centrifugo; every client is closed afterwards."""
    clients: list[LiveClient] = []

    def connect(connection_token: str) -> LiveClient:
        live = LiveClient(centrifugo_service.ws_url, connection_token).connect()
        clients.append(live)
        return live

    yield connect
    for live in clients:
        live.close()


@pytest.fixture
def start_worker(worker_env, smtp) -> Iterator[Callable[..., testing.ManagedProcess]]:
    """Start real Celery workers that send to `smtp`; every one is stopped at the end."""
    started: list[testing.ManagedProcess] = []

    def start(concurrency: int = 2, **overrides: object) -> testing.ManagedProcess:
        env = worker_env(
            **{**smtp.django_env, "EMAIL_TIMEOUT": 1, "OUTBOX_STALE_SECONDS": 2, **overrides}
        )
        worker = testing.WorkerProcess(env, concurrency=concurrency, name="email-worker")
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def email_worker(redis_service, start_worker) -> testing.ManagedProcess:
    """A real worker that sends to this test's SMTP server, with the site at PUBLIC, started
    on an empty broker."""
    celery_app.control.purge()
    return start_worker(PUBLIC_BASE_URL=PUBLIC)


@pytest.fixture
def capped_worker(redis_service, start_worker) -> testing.ManagedProcess:
    """A real worker whose inboxes take 3 emails a minute, started on an empty broker."""
    celery_app.control.purge()
    return start_worker(EMAIL_RECIPIENT_LIMIT="3/minute")

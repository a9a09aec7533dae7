"""The pytest plugin of this project (loaded by the root conftest): fixtures that start the real
services the tests talk to, on free ports, and point this process and its child workers at them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from .processes import django_env
from .services import CentrifugoProcess, JaegerProcess, RedisProcess, SmtpProcess, WorkerProcess


def point_celery_at(url: str) -> None:
    """Make this process publish to the test broker (settings were read before Redis started)."""
    from chatplatform.celery import app as celery_app

    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    celery_app.conf.broker_url = url
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(scope="session", autouse=True)
def _static_root() -> None:
    """WhiteNoise warns on every request when STATIC_ROOT is missing (no collectstatic in tests)."""
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _cache_of_this_test(settings: object) -> None:
    """Each test counts rate limits in a cache of its own (Django's in-memory one), never in the
    Redis the settings name (a developer's `make up`). Tests of the limits themselves point
    CACHES at `redis_service` (ratelimits/tests)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4()}",
        }
    }


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisProcess]:
    """A real Redis on a free port; the broker of this process and of every worker it starts."""
    redis = RedisProcess().start()
    point_celery_at(redis.url)
    yield redis
    redis.stop()


@pytest.fixture(scope="session")
def centrifugo_service() -> Iterator[CentrifugoProcess]:
    """A real Centrifugo on a free port that this process publishes to and signs tokens for.

    Pass `centrifugo_service.django_env` to `worker_env(...)` so a worker publishes there too.
    """
    from integrations import centrifugo

    proc = CentrifugoProcess().start()
    previous = {name: getattr(settings, name) for name in proc.django_env}
    for name, value in proc.django_env.items():
        setattr(settings, name, value)
    centrifugo.client.cache_clear()  # the cached client still points at the old URL and key
    yield proc
    for name, value in previous.items():
        setattr(settings, name, value)
    centrifugo.client.cache_clear()
    proc.stop()


@pytest.fixture(scope="session")
def jaeger() -> Iterator[JaegerProcess]:
    """One real Jaeger (deploy/jaeger/config.yaml) for the session, on free ports: pass
    `jaeger.env()` to a child process to trace it there, and read its traces back with
    `find_traces` / `wait_for_traces`. Shared by every test: find a test's own traces by its own
    ids (tags), never by counting. Needs .tools/bin/jaeger (scripts/setup.sh --test builds it).
    """
    proc = JaegerProcess().start()
    yield proc
    proc.stop()


@pytest.fixture
def worker_env(redis_service: RedisProcess, django_db_setup: None) -> Callable[..., dict[str, str]]:
    """Build the environment of a child worker: same test database, same broker."""

    def build(**overrides: object) -> dict[str, str]:
        return django_env(
            REDIS_URL=redis_service.url, CELERY_BROKER_URL=redis_service.url, **overrides
        )

    return build


@pytest.fixture
def smtp() -> Iterator[SmtpProcess]:
    """A real SMTP server of this test alone (no other test's worker sends to it); it refuses
    `refused@example.com` with 550."""
    server = SmtpProcess(refuse=("refused@example.com",)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_worker(
    redis_service: RedisProcess, centrifugo_service: CentrifugoProcess, django_db_setup: None
) -> Iterator[None]:
    """One worker (every queue) per test module that delivers the outbox to the test
    Centrifugo."""
    env = django_env(
        REDIS_URL=redis_service.url,
        CELERY_BROKER_URL=redis_service.url,
        CENTRIFUGO_TIMEOUT=1,
        **centrifugo_service.django_env,
    )
    with WorkerProcess(env, concurrency=1, name="realtime-worker"):
        yield


# Fixtures through which a test reaches the database (pytest-django's, and this project's that
# make rows); a test needing none of them runs the same on either engine.
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "django_db_setup"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that reach the database (make test's second, SQLite pass: "
        "the rest already ran on PostgreSQL and does not depend on the engine)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--database-tests-only"):
        return
    kept, skipped = [], []
    for item in items:
        uses_database = item.get_closest_marker("django_db") is not None or bool(
            DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        (kept if uses_database else skipped).append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = kept

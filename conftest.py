"""Session fixtures that start the real services the tests talk to, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from chatplatform import testing
from chatplatform.celery import app as celery_app


def _point_celery_at(url: str) -> None:
    """Make this process publish to the test broker (settings were read before Redis started)."""
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


@pytest.fixture(scope="session")
def redis_service() -> Iterator[testing.ManagedProcess]:
    """A real Redis on a free port; the broker of this process and of every worker it starts."""
    redis = testing.redis_process().start()
    _point_celery_at(redis.url)
    yield redis
    redis.stop()


@pytest.fixture(scope="session")
def centrifugo_service() -> Iterator[testing.ManagedProcess]:
    """A real Centrifugo on a free port that this process publishes to and signs tokens for.

    `centrifugo_service.django_env` holds the same settings as environment variables: pass them
    to `worker_env(**centrifugo_service.django_env)` so a worker publishes there too.
    """
    from chatplatform import centrifugo

    proc = testing.centrifugo_process().start()
    proc.django_env = {
        "CENTRIFUGO_API_URL": proc.api_url,
        "CENTRIFUGO_WS_URL": proc.ws_url,
        "CENTRIFUGO_HTTP_API_KEY": proc.api_key,
        "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY": proc.token_secret,
    }
    previous = {name: getattr(settings, name) for name in proc.django_env}
    for name, value in proc.django_env.items():
        setattr(settings, name, value)
    centrifugo.client.cache_clear()  # the cached client still points at the old URL and key
    yield proc
    for name, value in previous.items():
        setattr(settings, name, value)
    centrifugo.client.cache_clear()
    proc.stop()


@pytest.fixture
def worker_env(redis_service: testing.ManagedProcess, django_db_setup: None):
    """Build the environment of a child worker: same test database, same broker."""

    def build(**overrides: object) -> dict[str, str]:
        return testing.django_env(
            REDIS_URL=redis_service.url, CELERY_BROKER_URL=redis_service.url, **overrides
        )

    return build

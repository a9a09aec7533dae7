from __future__ import annotations

import pytest
import redis

from testing.services import RedisProcess


@pytest.fixture
def shared_cache(redis_service: RedisProcess, settings: object) -> None:
    """This process counts in the real Redis too, as the web servers under test do (the admin's
    clear action, the flood test); emptied so that no earlier test's attempts count."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_service.cache_url,
        }
    }
    redis.Redis.from_url(redis_service.cache_url).flushdb()
